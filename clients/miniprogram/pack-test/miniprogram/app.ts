// app.ts of a native mini-program that uses the installed package.
import { createClient, isWxidError, type StoredSession, type WxidClient } from '@wxid/miniprogram';

export interface IAppOption {
  globalData: { session: StoredSession | null };
  wxid: WxidClient;
}

App<IAppOption>({
  globalData: { session: null },
  wxid: createClient({
    endpoint: 'https://id.example.com/graphql',
    appId: 'wx0000000000000001',
    wx, // the default; passed here so the real wx's type is checked against the client's
    storageKey: 'wxid.session',
    autoRefresh: true,
    retry: { retries: 2, baseDelayMs: 300, maxDelayMs: 4_000 },
    timeoutMs: 8_000,
    onSessionChange: (session) => {
      getApp<IAppOption>().globalData.session = session;
    },
    onError: (err) => {
      if (isWxidError(err)) console.warn('wxid', err.code, err.message, err.statusCode, err.retryAfter);
    },
  }),
  onLaunch() {
    void this.wxid.onLaunch();
  },
  onShow() {
    this.wxid.onShow();
  },
  onHide() {
    this.wxid.onHide();
  },
});
