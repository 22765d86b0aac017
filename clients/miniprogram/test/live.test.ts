// The client against a live wxid (built from this repository, sandbox
// WeChat stand-in), through the wx shim: real HTTP, real login codes.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, isWxidError, MeDocument, WxidError, type ClientOptions } from '../src/index';
import { buildServer, cleanup, rawGraphQL, startServer, type RunningServer } from './server';
import { createWxShim, type WxShim } from './wxshim';

const APPID = 'wx0000000000000001';
const TTL_MS = 3_000; // idle lifetime of an skey on the short-lived server
const GRACE_MS = 1_000; // grace window of a rotated skey there

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let main: RunningServer; // default lifetimes
let short: RunningServer; // WXID_SESSION_TTL=3s, WXID_REFRESH_GRACE=1s

function person(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function setup(server: RunningServer, opts: Partial<ClientOptions> & { user?: string; shimAppId?: string } = {}) {
  const { user, shimAppId, ...clientOpts } = opts;
  const wx: WxShim = createWxShim({ baseUrl: server.url, user: user ?? person('p'), appId: shimAppId });
  const client = createClient({ endpoint: `${server.url}/graphql`, wx, ...clientOpts });
  return { wx, client };
}

async function rawMe(server: RunningServer, skey: string) {
  const r = await rawGraphQL(server.url, '{ me { id } }', skey);
  return { status: r.status, code: r.body.errors?.[0]?.extensions?.code ?? null, body: r.body };
}

function codeOf(e: unknown): string {
  return e instanceof WxidError ? e.code : `not a WxidError: ${String(e)}`;
}

const ops = (wx: WxShim) => wx.requests.map((r) => /(?:query|mutation)\s+(\w+)/.exec(r.query)?.[1] ?? r.query.slice(0, 20));

describe('live wxid', { timeout: 15 * 60_000 }, () => {
  before(
    async () => {
      const bin = buildServer();
      [main, short] = await Promise.all([
        startServer(bin, { WXID_WECHAT_APPID: APPID }),
        startServer(bin, {
          WXID_WECHAT_APPID: APPID,
          WXID_SESSION_TTL: `${TTL_MS / 1000}s`,
          WXID_REFRESH_GRACE: `${GRACE_MS / 1000}s`,
        }),
      ]);
    },
    { timeout: 10 * 60_000 },
  );

  after(async () => {
    await Promise.all([main?.stop(), short?.stop()]);
    cleanup();
  });

  it('first login registers the user; the next login finds it', async () => {
    const { wx, client } = setup(main);
    const first = await client.login();
    assert.equal(first.isNewUser, true);
    assert.ok(first.skey.length >= 16, 'an skey');
    assert.ok(first.openId, 'an openId');
    assert.ok(Date.parse(first.expiresAt) > Date.now(), 'expiresAt in the future');
    assert.deepEqual(first.user.openIds, [{ appId: APPID, openId: first.openId }]);
    assert.equal(JSON.parse(wx.storage.get('wxid.session') ?? '{}').skey, first.skey, 'skey stored');

    const second = await client.login();
    assert.equal(second.isNewUser, false);
    assert.equal(second.user.id, first.user.id);
    assert.equal(second.openId, first.openId);
    assert.notEqual(second.skey, first.skey);
    assert.equal(wx.loginCalls, 2);
  });

  it('me: logs in lazily, sends the skey, survives an app restart', async () => {
    const { wx, client } = setup(main);
    const me = await client.me();
    assert.equal(wx.loginCalls, 1);
    const skey = client.getSession()?.skey;
    assert.ok(skey);
    assert.deepEqual(ops(wx), ['Login', 'Me']);
    assert.equal(wx.requests[0].authorization, undefined, 'login sends no skey');
    assert.equal(wx.requests[1].authorization, `Bearer ${skey}`);
    assert.ok(me.id);
    assert.equal(me.openIds.length, 1);
    assert.equal(me.openIds[0].appId, APPID);
    assert.ok(me.lastLoginAt, 'lastLoginAt set');

    // The app is killed and started again: the stored skey is reused.
    const restarted = createClient({ endpoint: `${main.url}/graphql`, wx });
    assert.equal((await restarted.me()).id, me.id);
    assert.equal(wx.loginCalls, 1);
  });

  it('concurrent calls share one login', async () => {
    const { wx, client } = setup(main);
    const users = await Promise.all(Array.from({ length: 10 }, () => client.me()));
    assert.equal(wx.loginCalls, 1, 'exactly one wx.login');
    assert.equal(ops(wx).filter((o) => o === 'Login').length, 1, 'exactly one login mutation');
    assert.equal(new Set(users.map((u) => u.id)).size, 1);
  });

  it('an expired skey is replaced by a transparent re-login and the request retried', async () => {
    const { wx, client } = setup(short);
    const first = await client.login();
    await sleep(TTL_MS + 700);
    assert.equal((await rawMe(short, first.skey)).code, 'UNAUTHENTICATED', 'the server refuses the expired skey');

    wx.requests.length = 0;
    const me = await client.me();
    assert.equal(me.id, first.user.id);
    assert.deepEqual(ops(wx), ['Me', 'Login', 'Me']);
    assert.equal(wx.loginCalls, 2);
    const second = client.getSession()!.skey;
    assert.notEqual(second, first.skey);
    assert.equal(wx.requests[2].authorization, `Bearer ${second}`);

    // Several requests hitting an expired skey at once: still one re-login.
    await sleep(TTL_MS + 700);
    const users = await Promise.all(Array.from({ length: 5 }, () => client.me()));
    assert.equal(new Set(users.map((u) => u.id)).size, 1);
    assert.equal(wx.loginCalls, 3);
  });

  it('refresh rotates the skey; the old one works during the grace window', async () => {
    const { wx, client } = setup(main);
    const old = (await client.login()).skey;
    const rotated = await client.refresh();
    assert.notEqual(rotated.skey, old);
    assert.ok(Date.parse(rotated.expiresAt) > Date.now());
    assert.equal(JSON.parse(wx.storage.get('wxid.session') ?? '{}').skey, rotated.skey, 'new skey stored');
    assert.equal((await rawMe(main, old)).code, null, 'old skey still works in the grace window');
    assert.equal((await rawMe(main, rotated.skey)).code, null, 'new skey works');
    await client.me();
    assert.equal(wx.requests.at(-1)!.authorization, `Bearer ${rotated.skey}`);
    assert.equal(wx.loginCalls, 1, 'rotation needs no wx.login');
  });

  it('after the grace window only the new skey works', async () => {
    const { client } = setup(short);
    const old = (await client.login()).skey;
    const rotated = (await client.refresh()).skey;
    await sleep(GRACE_MS + 600);
    assert.equal((await rawMe(short, old)).code, 'UNAUTHENTICATED', 'old skey refused after the grace window');
    assert.equal((await rawMe(short, rotated)).code, null, 'new skey works');
  });

  it("the refresh timer follows the server's TTL while shown and stops when hidden", async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const { wx, client } = setup(short, {
      onSessionChange: (s) => s && seen.push(s.skey),
      onError: (e) => errors.push(e),
    });
    client.onShow();
    await client.login();
    const lifetime = client.getSession()!.lifetimeMs;
    assert.ok(lifetime > TTL_MS - 1_500 && lifetime <= TTL_MS, `lifetime ${lifetime} ms from the server's 3 s TTL`);
    // Three TTLs: without rotation the first skey would be long dead.
    const deadline = Date.now() + 3 * TTL_MS;
    while (Date.now() < deadline) {
      await sleep(250);
      const skey = client.getSession()!.skey;
      assert.equal((await rawMe(short, skey)).code, null, 'the current skey always works');
    }
    assert.ok(seen.length >= 4, `rotated at least three times in 9 s (saw ${seen.length - 1})`);
    assert.equal(new Set(seen).size, seen.length, 'every rotation gives a new skey');
    assert.equal(wx.loginCalls, 1, 'no re-login');

    client.onHide();
    await sleep(100); // a rotation already on the wire may land
    const atHide = client.getSession()!.skey;
    const refreshes = ops(wx).filter((o) => o === 'RefreshSession').length;
    await sleep(TTL_MS);
    assert.equal(client.getSession()!.skey, atHide, 'no rotation while hidden');
    assert.equal(ops(wx).filter((o) => o === 'RefreshSession').length, refreshes);
    assert.deepEqual(errors, [], 'no background refresh failed');

    // Back after the skey died: onShow logs in again at once.
    client.onShow();
    const back = Date.now() + 5_000;
    while (wx.loginCalls < 2 && Date.now() < back) await sleep(50);
    assert.equal(wx.loginCalls, 2);
    assert.equal((await rawMe(short, client.getSession()!.skey)).code, null);
    client.onHide();
  });

  it('launch: wx.checkSession decides whether the stored session is kept or replaced by a fresh login', async () => {
    const { wx, client } = setup(main);
    const first = await client.login();
    const phone = '+8613600136000';

    // Relaunch with WeChat's session valid: the stored skey is used, no wx.login.
    const kept = createClient({ endpoint: `${main.url}/graphql`, wx });
    await kept.onLaunch();
    assert.equal(wx.checkSessionCalls, 1);
    assert.equal(wx.loginCalls, 1);
    assert.equal(kept.getSession()!.skey, first.skey);

    // Relaunch after WeChat let the session lapse: a fresh login before
    // anything else, so the session_key wxid holds is the phone's; the stale
    // skey is revoked; old-form phone data from the new session decrypts.
    wx.sessionValid = false;
    const relaunched = createClient({ endpoint: `${main.url}/graphql`, wx });
    assert.equal((await relaunched.me()).id, first.user.id);
    assert.equal(wx.checkSessionCalls, 2);
    assert.equal(wx.loginCalls, 2);
    assert.notEqual(relaunched.getSession()!.skey, first.skey);
    const deadline = Date.now() + 5_000;
    while ((await rawMe(main, first.skey)).code !== 'UNAUTHENTICATED' && Date.now() < deadline) await sleep(50);
    assert.equal((await rawMe(main, first.skey)).code, 'UNAUTHENTICATED', 'stale skey revoked');
    const r = await relaunched.bindPhoneNumber({ detail: await wx.phoneDetail('encrypted', phone) });
    assert.equal(r.phoneNumber, phone);
    assert.equal(wx.loginCalls, 2);
  });

  it('old form with a lapsed skey: PHONE_SESSION_EXPIRED and no wx.login; after a login a new tap works', async () => {
    const { wx, client } = setup(short);
    await client.login();
    const detail = await wx.phoneDetail('encrypted', '+8613500135000');
    await sleep(TTL_MS + 700); // the app sat hidden: no refresh
    await assert.rejects(client.bindPhoneNumber({ detail }), (e: unknown) => codeOf(e) === 'PHONE_SESSION_EXPIRED');
    assert.equal(wx.loginCalls, 1, 'no wx.login between the tap and the decrypt');
    assert.equal(client.getSession(), null);

    // What the page does: log in, ask for the tap again.
    await client.login();
    const again = await client.bindPhoneNumber({ detail: await wx.phoneDetail('encrypted', '+8613500135000') });
    assert.equal(again.purePhoneNumber, '13500135000');
  });

  it('old form near the end of the skey: rotated first, then decrypted (no wx.login)', async () => {
    const { wx, client } = setup(short);
    const { skey } = await client.login();
    const detail = await wx.phoneDetail('encrypted', '+8613400134000');
    await sleep((TTL_MS * 3) / 4); // past the refresh point, before expiry; no timer (never shown)
    const r = await client.bindPhoneNumber({ detail });
    assert.equal(r.phoneNumber, '+8613400134000');
    assert.deepEqual(ops(wx).slice(-2), ['RefreshSession', 'DecryptPhoneNumberEncrypted']);
    assert.notEqual(client.getSession()!.skey, skey);
    assert.equal(wx.loginCalls, 1);
  });

  it('a stale code at login is replaced by a fresh one once', async () => {
    const { wx, client } = setup(main);
    wx.queuedCodes.push('0a1b2c3d4e5f-not-a-code');
    const r = await client.login();
    assert.ok(r.skey);
    assert.equal(wx.loginCalls, 2);
    assert.deepEqual(ops(wx), ['Login', 'Login']);
  });

  it('logout revokes the skey; the next call logs in again', async () => {
    const { wx, client } = setup(main);
    const { skey, user } = await client.login();
    assert.equal(await client.logout(), true);
    assert.equal(client.getSession(), null);
    assert.equal(wx.storage.has('wxid.session'), false);
    assert.equal((await rawMe(main, skey)).code, 'UNAUTHENTICATED', 'revoked skey refused');
    const again = await rawGraphQL(main.url, 'mutation { logout }', skey);
    assert.equal(again.body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'logout of a revoked skey');
    assert.equal(await client.logout(), false);

    assert.equal((await client.me()).id, user.id);
    assert.equal(wx.loginCalls, 2);
  });

  it('account lifecycle: devices, profile, export, logoutEverywhere and deleteMyAccount', async () => {
    const name = person('life');
    const phone = setup(main, { user: name });
    const pad = setup(main, { user: name });
    const { user } = await phone.client.login();
    const padLogin = await pad.client.login();
    assert.equal(padLogin.user.id, user.id);

    const sessions = await phone.client.mySessions();
    assert.equal(sessions.length, 2);
    assert.equal(sessions.filter((s) => s.current).length, 1);
    const other = sessions.find((s) => !s.current)!;
    assert.equal(await phone.client.revokeMySession(other.id), true);
    assert.equal((await rawMe(main, padLogin.skey)).code, 'UNAUTHENTICATED', "the pad's skey was revoked");
    await assert.rejects(phone.client.revokeMySession(other.id), (e: unknown) => codeOf(e) === 'NOT_FOUND');

    const updated = await phone.client.updateProfile({ nickname: ' 小明 ', avatarUrl: 'https://cdn.example.com/a.png' });
    assert.equal(updated.nickname, '小明');
    assert.equal(updated.avatarUrl, 'https://cdn.example.com/a.png');
    await assert.rejects(phone.client.updateProfile({ avatarUrl: 'http://cdn.example.com/a.png' }), (e: unknown) => codeOf(e) === 'BAD_USER_INPUT');

    const exported = (await phone.client.exportMyData()) as { user: { id: number; nickname: string }; sessions: unknown[] };
    assert.equal(String(exported.user.id), user.id);
    assert.equal(exported.user.nickname, '小明');
    assert.ok(exported.sessions.length >= 2);

    // logoutEverywhere ends the caller's session too, and the client forgets it.
    await pad.client.login();
    const { skey } = phone.client.getSession()!;
    assert.equal(await phone.client.logoutEverywhere(), 2);
    assert.equal(phone.client.getSession(), null);
    assert.equal((await rawMe(main, skey)).code, 'UNAUTHENTICATED');
    assert.deepEqual(ops(phone.wx).slice(-1), ['LogoutEverywhere'], 'no login just to log out everywhere');

    // deleteMyAccount erases the user: the next login is a new user.
    const before = await phone.client.login();
    assert.equal(await phone.client.deleteMyAccount(), true);
    assert.equal(phone.client.getSession(), null);
    assert.equal((await rawMe(main, before.skey)).code, 'UNAUTHENTICATED');
    const fresh = await phone.client.login();
    assert.equal(fresh.isNewUser, true);
    assert.notEqual(fresh.user.id, user.id);
  });

  it('binds a phone number from the getPhoneNumber event, new form (code)', async () => {
    const { wx, client } = setup(main);
    await client.login();
    const detail = await wx.phoneDetail('code', '+8613800138000', '86');
    const r = await client.bindPhoneNumber({ detail });
    assert.equal(r.phoneNumber, '+8613800138000');
    assert.equal(r.purePhoneNumber, '13800138000');
    assert.equal(r.countryCode, '86');
    assert.equal(r.user.phoneNumber, '+8613800138000');
    const me = await client.me();
    assert.equal(me.phoneNumber, '+8613800138000');
    assert.equal(me.purePhoneNumber, '13800138000');
    assert.equal(me.countryCode, '86');
    assert.ok(me.phoneVerifiedAt);
  });

  it('binds a phone number from the getPhoneNumber event, old form (encryptedData + iv)', async () => {
    const { wx, client } = setup(main);
    await client.login();
    const detail = await wx.phoneDetail('encrypted', '+8613900139000', '86');
    const r = await client.bindPhoneNumber(detail); // the bare detail works too
    assert.equal(r.phoneNumber, '+8613900139000');
    assert.equal(r.purePhoneNumber, '13900139000');
    assert.equal(r.countryCode, '86');
    assert.equal((await client.me()).phoneNumber, '+8613900139000');
  });

  it('encryptedData from before a later wx.login fails with DECRYPT_FAILED', async () => {
    const { wx, client } = setup(main);
    await client.login();
    const detail = await wx.phoneDetail('encrypted', '+8613700137000', '86');
    await client.login(); // rotates WeChat's session_key
    await assert.rejects(client.bindPhoneNumber({ detail }), (e: unknown) => codeOf(e) === 'DECRYPT_FAILED');
    assert.equal((await client.me()).phoneNumber, null);
  });

  it("errors carry wxid's extensions.code", async () => {
    // Codes WeChat never issued (the retry with a fresh code gets another bad one).
    const a = setup(main);
    a.wx.queuedCodes.push('0a1b2c3d4e5f-not-a-code', '0a1b2c3d4e5f-not-a-code2');
    await assert.rejects(a.client.login(), (e: unknown) => codeOf(e) === 'INVALID_CODE');
    assert.equal(a.client.getSession(), null);
    assert.equal(a.wx.loginCalls, 2);

    // A code used twice (three times: once more for the retry).
    const code = await new Promise<string>((resolve, reject) =>
      a.wx.login({ success: (r) => resolve(r.code), fail: (e) => reject(new Error(e.errMsg)) }),
    );
    a.wx.queuedCodes.push(code, code, code);
    await a.client.login();
    await assert.rejects(a.client.login(), (e: unknown) => codeOf(e) === 'INVALID_CODE');

    // An appId the server does not serve.
    const b = setup(main, { appId: 'wxffffffffffffffff' });
    await assert.rejects(b.client.login(), (e: unknown) => codeOf(e) === 'BAD_USER_INPUT');

    // No skey.
    await assert.rejects(a.client.request(MeDocument, undefined, { auth: false }), (e: unknown) => {
      assert.ok(isWxidError(e, 'UNAUTHENTICATED'));
      assert.equal((e as WxidError).errors[0].extensions?.code, 'UNAUTHENTICATED');
      return true;
    });

    // Both or neither phone forms.
    const both = 'mutation { decryptPhoneNumber(input: {code: "x", encryptedData: "AAAA", iv: "AAAA"}) { phoneNumber } }';
    const neither = 'mutation { decryptPhoneNumber(input: {}) { phoneNumber } }';
    await assert.rejects(a.client.request(both), (e: unknown) => codeOf(e) === 'BAD_USER_INPUT');
    await assert.rejects(a.client.request(neither), (e: unknown) => codeOf(e) === 'BAD_USER_INPUT');

    // The user declined the phone number: no request at all.
    const n = a.wx.requests.length;
    await assert.rejects(
      a.client.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } }),
      (e: unknown) => codeOf(e) === 'PHONE_DENIED',
    );
    assert.equal(a.wx.requests.length, n);
  });

  it('logs in to an explicitly named app', async () => {
    const { wx, client } = setup(main, { appId: APPID, shimAppId: APPID });
    const r = await client.login();
    assert.deepEqual(r.user.openIds, [{ appId: APPID, openId: r.openId }]);
    assert.equal(client.getSession()?.appId, APPID);
    assert.equal(ops(wx)[0], 'Login');
  });
});
