// The part of the mini-program API the client uses. The real `wx` global
// (typed by miniprogram-api-typings) and Taro's `Taro` object satisfy it; tests
// inject fakes. Every method may either call its `success`/`fail` callbacks
// (wx) or return a promise (Taro does both): the client settles on whichever
// comes first and never leaves a rejected promise unhandled.

/** What wx.request, wx.login and wx.checkSession hand to `fail`. */
export interface WxFailResult {
  errMsg: string;
  errno?: number;
}

/** What wx.request hands to `success`. */
export interface WxRequestSuccessResult {
  /** The parsed JSON body (dataType "json"), or the raw text when it is not JSON. */
  data: unknown;
  statusCode: number;
  /** Response headers; the client reads `Date` to learn the server's clock. */
  header?: Record<string, unknown>;
}

/** The options the client passes to wx.request. */
export interface WxRequestOptions {
  url: string;
  method: 'POST';
  data: Record<string, unknown>;
  header: Record<string, string>;
  timeout?: number;
  dataType?: 'json';
  success(res: WxRequestSuccessResult): void;
  fail(err: WxFailResult): void;
}

/** What wx.login hands to `success`. */
export interface WxLoginSuccessResult {
  code: string;
  errMsg: string;
}

/** The options the client passes to wx.login. */
export interface WxLoginOptions {
  timeout?: number;
  success(res: WxLoginSuccessResult): void;
  fail(err: WxFailResult): void;
}

/** The options the client passes to wx.checkSession. */
export interface WxCheckSessionOptions {
  success(res: { errMsg: string }): void;
  fail(err: WxFailResult): void;
}

/** The mini-program API: pass `wx` (native) or `Taro` (Taro). */
export interface Wx {
  request(options: WxRequestOptions): unknown;
  login(options: WxLoginOptions): unknown;
  /**
   * Whether the session_key of the last wx.login() is still valid. Consulted
   * once per launch; when absent the stored session is trusted.
   */
  checkSession?(options: WxCheckSessionOptions): unknown;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): unknown;
  removeStorageSync(key: string): unknown;
}

/** The getPhoneNumber button's event detail, in either form (or both). */
export interface PhoneNumberDetail {
  errMsg?: string;
  /** New form (base library 2.21.2+): exchanged by wxid with WeChat. */
  code?: string;
  /** Old form: decrypted by wxid with the session_key of the last wx.login(). */
  encryptedData?: string;
  iv?: string;
  cloudID?: string;
}

/** The event a `bindgetphonenumber` handler receives, or just its detail. */
export type PhoneNumberEvent = { detail: PhoneNumberDetail } | PhoneNumberDetail;

/** Timer functions and the clock; injectable for tests. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds since the epoch (Date.now). */
  now(): number;
}

/**
 * Calls a wx-style API with success/fail callbacks and settles with the first
 * outcome: a callback, or the promise the API returns (Taro). A returned
 * promise always gets a rejection handler, so a Taro failure is never an
 * unhandled rejection.
 */
export function invoke<T>(call: (callbacks: { success(res: T): void; fail(err: WxFailResult): void }) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const ok = (res: T) => {
      if (settled) return;
      settled = true;
      resolve(res);
    };
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    let returned: unknown;
    try {
      returned = call({ success: ok, fail });
    } catch (err) {
      fail(err);
      return;
    }
    if (returned && typeof (returned as PromiseLike<T>).then === 'function') {
      (returned as PromiseLike<T>).then(ok, fail);
    }
  });
}

/** The errMsg of a wx failure, or the message of a thrown error. */
export function failMessage(err: unknown, fallback: string): string {
  if (err && typeof err === 'object') {
    const e = err as { errMsg?: unknown; message?: unknown };
    if (typeof e.errMsg === 'string' && e.errMsg) return e.errMsg;
    if (typeof e.message === 'string' && e.message) return e.message;
  }
  return typeof err === 'string' && err ? err : fallback;
}
