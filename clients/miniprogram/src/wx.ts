// The part of the mini-program `wx` API the client uses. The real `wx` global
// satisfies it; tests inject a shim.

/** What wx.request / wx.login hand to `fail`. */
export interface WxFailResult {
  errMsg: string;
  errno?: number;
}

export interface WxRequestSuccessResult {
  /** The parsed JSON body (dataType "json"), or the raw text when it is not JSON. */
  data: unknown;
  statusCode: number;
  header?: Record<string, string>;
}

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

export interface WxLoginSuccessResult {
  code: string;
  errMsg: string;
}

export interface WxLoginOptions {
  timeout?: number;
  success(res: WxLoginSuccessResult): void;
  fail(err: WxFailResult): void;
}

export interface Wx {
  request(options: WxRequestOptions): unknown;
  login(options: WxLoginOptions): void;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): void;
  removeStorageSync(key: string): void;
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

/** Timer functions; injectable for tests. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}
