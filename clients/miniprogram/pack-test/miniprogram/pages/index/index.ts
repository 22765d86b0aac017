// A page that uses every operation of the installed client, typed.
import {
  DecryptPhoneNumberCodeDocument,
  DecryptPhoneNumberEncryptedDocument,
  DeleteMyAccountDocument,
  ExportMyDataDocument,
  LoginDocument,
  LogoutDocument,
  LogoutEverywhereDocument,
  MeDocument,
  MySessionsDocument,
  RefreshSessionDocument,
  RevokeMySessionDocument,
  UpdateProfileDocument,
  UserFieldsFragmentDoc,
  WxidError,
  isWxidError,
  type LoginResult,
  type MeQuery,
  type MySession,
  type PhoneNumberResult,
  type ProfileChange,
  type StoredSession,
  type User,
} from '@wxid/miniprogram';
import type { IAppOption } from '../../app';

const { wxid } = getApp<IAppOption>();

Page({
  data: { nickname: '', phone: '', userId: '', expiresAt: '' },

  async onLoad() {
    try {
      const me: User = await wxid.me();
      const again: MeQuery = await wxid.request(MeDocument);
      const anonymous = await wxid.request(MeDocument, {}, { auth: false }).catch(() => null);
      this.setData({ userId: me.id, phone: again.me.phoneNumber ?? '' });
      void anonymous;
      const s: StoredSession | null = wxid.getSession();
      if (s) this.setData({ expiresAt: s.expiresAt });
    } catch (err) {
      this.showError(err);
    }
  },

  async onRelogin() {
    const r: LoginResult = await wxid.login();
    const openIds: string[] = r.user.openIds.map((o) => `${o.appId}:${o.openId}`);
    console.log(r.isNewUser, r.unionId, r.expiresAt, openIds);
    // The login mutation by hand: code is required, appId optional.
    const raw = await wxid.request(LoginDocument, { code: 'from wx.login', appId: null }, { auth: false });
    console.log(raw.login.skey.length);
    // @ts-expect-error code is required
    await wxid.request(LoginDocument, {});
  },

  async onRefresh() {
    const s: StoredSession = await wxid.refresh();
    const r = await wxid.request(RefreshSessionDocument);
    console.log(s.lifetimeMs, r.refreshSession.expiresAt);
  },

  async onLogout() {
    const revoked: boolean = await wxid.logout();
    const again = await wxid.request(LogoutDocument).catch(() => ({ logout: false }));
    console.log(revoked, again.logout);
  },

  // My devices: list them, end one, end them all.
  async onDevices() {
    const sessions: MySession[] = await wxid.mySessions();
    const other = sessions.find((x) => !x.current);
    if (other) {
      const ended: boolean = await wxid.revokeMySession(other.id);
      console.log(ended, other.userAgent, other.clientIP);
    }
    const byHand = await wxid.request(MySessionsDocument);
    console.log(byHand.mySessions.length);
    await wxid.request(RevokeMySessionDocument, { id: '1' });
    // @ts-expect-error id is required
    await wxid.request(RevokeMySessionDocument, {});
    const n: number = await wxid.logoutEverywhere();
    const again = await wxid.request(LogoutEverywhereDocument).catch(() => ({ logoutEverywhere: 0 }));
    console.log(n, again.logoutEverywhere);
  },

  // <input type="nickname" bindblur="onNickname">
  async onNickname(e: WechatMiniprogram.Input) {
    const change: ProfileChange = { nickname: e.detail.value };
    const u: User = await wxid.updateProfile(change);
    this.setData({ nickname: u.nickname ?? '' });
    const r = await wxid.request(UpdateProfileDocument, { avatarUrl: 'https://example.com/a.png' });
    console.log(r.updateProfile.avatarUrl);
  },

  // Account cancellation and a copy of the data.
  async onAccount() {
    const data: unknown = await wxid.exportMyData();
    const raw = await wxid.request(ExportMyDataDocument);
    console.log(JSON.stringify(data).length, raw.exportMyData);
    const deleted: boolean = await wxid.deleteMyAccount();
    const again = await wxid.request(DeleteMyAccountDocument).catch(() => ({ deleteMyAccount: false }));
    console.log(deleted, again.deleteMyAccount);
  },

  // <button open-type="getPhoneNumber" bindgetphonenumber="onGetPhoneNumber">
  async onGetPhoneNumber(e: WechatMiniprogram.ButtonGetPhoneNumber) {
    try {
      const r: PhoneNumberResult = await wxid.bindPhoneNumber(e);
      this.setData({ phone: r.phoneNumber });
    } catch (err) {
      if (isWxidError(err, 'PHONE_DENIED')) return;
      if (isWxidError(err, 'PHONE_SESSION_EXPIRED')) {
        await wxid.login();
        wx.showModal({ title: '请再点一次', content: '登录已更新，请再次授权手机号', showCancel: false });
        return;
      }
      this.showError(err);
    }
  },

  // Both forms by hand: every variable is required.
  async onPhoneByHand(detail: { code?: string; encryptedData?: string; iv?: string }) {
    if (detail.code) {
      const r = await wxid.request(DecryptPhoneNumberCodeDocument, { code: detail.code });
      this.setData({ phone: r.decryptPhoneNumber.purePhoneNumber });
    } else if (detail.encryptedData && detail.iv) {
      const r = await wxid.request(DecryptPhoneNumberEncryptedDocument, { encryptedData: detail.encryptedData, iv: detail.iv });
      this.setData({ phone: r.decryptPhoneNumber.countryCode });
    }
    // @ts-expect-error code is required
    await wxid.request(DecryptPhoneNumberCodeDocument);
    // @ts-expect-error iv is required
    await wxid.request(DecryptPhoneNumberEncryptedDocument, { encryptedData: 'x' });
    // @ts-expect-error code is a string
    await wxid.request(DecryptPhoneNumberCodeDocument, { code: 42 });
    // @ts-expect-error Me takes no variables
    await wxid.request(MeDocument, { id: '1' });
    console.log(String(UserFieldsFragmentDoc).length);
  },

  showError(err: unknown) {
    if (isWxidError(err, 'NETWORK_ERROR')) {
      wx.showToast({ title: '网络不可用', icon: 'none' });
    } else if (err instanceof WxidError) {
      const codes: string[] = err.errors.map((e) => e.extensions?.code ?? '');
      wx.showToast({ title: `${err.code}: ${err.message}`, icon: 'none' });
      console.warn(codes);
    }
  },
});
