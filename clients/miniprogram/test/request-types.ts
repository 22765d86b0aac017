// Compile-time checks of request()'s typing (type-checked by `npm test`;
// nothing here runs). Each @ts-expect-error fails the type check when the
// line below it compiles.
import {
  DecryptPhoneNumberCodeDocument,
  DecryptPhoneNumberEncryptedDocument,
  LoginDocument,
  MeDocument,
  RefreshSessionDocument,
  type WxidClient,
} from '../src/index';

export async function requestTypes(client: WxidClient): Promise<void> {
  // Operations without variables: the variables may be left out.
  const { me } = await client.request(MeDocument);
  const id: string = me.id;
  await client.request(MeDocument, {}, { auth: false });
  await client.request(MeDocument, undefined, { auth: false });
  await client.request(RefreshSessionDocument);

  // Required variables are required.
  // @ts-expect-error code is required
  await client.request(DecryptPhoneNumberCodeDocument);
  // @ts-expect-error code is required
  await client.request(DecryptPhoneNumberCodeDocument, {});
  // @ts-expect-error code is a string
  await client.request(DecryptPhoneNumberCodeDocument, { code: 1 });
  // @ts-expect-error iv is required
  await client.request(DecryptPhoneNumberEncryptedDocument, { encryptedData: 'x' });
  // @ts-expect-error no such variable
  await client.request(MeDocument, { code: 'x' });
  // @ts-expect-error code is required; appId alone is not enough
  await client.request(LoginDocument, { appId: 'wx1' });
  const phone = await client.request(DecryptPhoneNumberCodeDocument, { code: 'c' });
  const n: string = phone.decryptPhoneNumber.phoneNumber;
  await client.request(LoginDocument, { code: 'c' });
  await client.request(LoginDocument, { code: 'c', appId: null });

  // Results are typed.
  // @ts-expect-error no such field
  void me.password;

  // A plain string is untyped.
  const raw: unknown = await client.request('{ me { id } }');
  await client.request('query ($x: ID!) { node(id: $x) { id } }', { x: '1' });
  void [id, n, raw];
}
