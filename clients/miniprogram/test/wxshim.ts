// A stand-in for the mini-program's `wx` that talks to a live wxid:
// wx.request is real HTTP (fetch), wx.login gets a real code from the
// sandbox WeChat stand-in's POST /sandbox/wx.login, storage is in memory
// (JSON round-tripped like the real one). One shim = one person's phone.
import type { PhoneNumberDetail, Wx, WxCheckSessionOptions, WxRequestOptions, WxLoginOptions } from '../src/wx';

export interface WxShimOptions {
  /** Server base URL, e.g. http://127.0.0.1:1234 */
  baseUrl: string;
  /** The sandbox person this phone belongs to. */
  user: string;
  /** The mini-program this phone runs (default: the server's default app). */
  appId?: string;
}

export interface WxShim extends Wx {
  readonly user: string;
  /** How many times wx.login asked the stand-in for a code. */
  loginCalls: number;
  /** Every wx.request made, in order. */
  requests: Array<{ url: string; authorization?: string; query: string; statusCode?: number; body?: unknown }>;
  storage: Map<string, string>;
  /** Codes wx.login hands out before asking the stand-in (to test bad codes). */
  queuedCodes: string[];
  /** Makes the next wx.login fail like the real one does offline. */
  failNextLogin: boolean;
  /** What wx.checkSession says: false after WeChat let the session lapse (until the next wx.login). */
  sessionValid: boolean;
  /** How many times wx.checkSession was called. */
  checkSessionCalls: number;
  /** The getPhoneNumber button's event detail for this person, in the given form. */
  phoneDetail(form: 'code' | 'encrypted', phoneNumber: string, countryCode?: string): Promise<PhoneNumberDetail>;
}

async function postJSON(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export function createWxShim(opts: WxShimOptions): WxShim {
  const shim: WxShim = {
    user: opts.user,
    loginCalls: 0,
    requests: [],
    storage: new Map(),
    queuedCodes: [],
    failNextLogin: false,
    sessionValid: true,
    checkSessionCalls: 0,

    request(o: WxRequestOptions): void {
      const body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
      const entry: WxShim['requests'][number] = {
        url: o.url,
        authorization: o.header.authorization ?? o.header.Authorization,
        query: String((o.data as { query?: unknown }).query ?? ''),
      };
      shim.requests.push(entry);
      const ctl = new AbortController();
      const timer = o.timeout ? setTimeout(() => ctl.abort(), o.timeout) : undefined;
      fetch(o.url, { method: o.method, headers: o.header, body, signal: ctl.signal })
        .then(async (res) => {
          const text = await res.text();
          let data: unknown = text;
          if (o.dataType === 'json') {
            try {
              data = JSON.parse(text);
            } catch {
              // wx.request hands over the raw text when it is not JSON
            }
          }
          // wx.request keeps the server's spelling of header names.
          const header: Record<string, string> = {};
          res.headers.forEach((v, k) => (header[k.replace(/(^|-)[a-z]/g, (m) => m.toUpperCase())] = v));
          entry.statusCode = res.status;
          entry.body = data;
          o.success({ data, statusCode: res.status, header });
        })
        .catch((err: unknown) => o.fail({ errMsg: `request:fail ${err instanceof Error ? err.message : String(err)}` }))
        .finally(() => clearTimeout(timer));
    },

    login(o: WxLoginOptions): void {
      shim.loginCalls++;
      shim.sessionValid = true;
      if (shim.failNextLogin) {
        shim.failNextLogin = false;
        setTimeout(() => o.fail({ errMsg: 'login:fail network unavailable' }), 0);
        return;
      }
      const queued = shim.queuedCodes.shift();
      if (queued !== undefined) {
        setTimeout(() => o.success({ code: queued, errMsg: 'login:ok' }), 0);
        return;
      }
      postJSON(`${opts.baseUrl}/sandbox/wx.login`, { appId: opts.appId, user: opts.user })
        .then((r) => {
          if (typeof r.code !== 'string' || !r.code) throw new Error(`no code in ${JSON.stringify(r)}`);
          o.success({ code: r.code, errMsg: 'login:ok' });
        })
        .catch((err: unknown) => o.fail({ errMsg: `login:fail ${err instanceof Error ? err.message : String(err)}` }));
    },

    checkSession(o: WxCheckSessionOptions): void {
      shim.checkSessionCalls++;
      setTimeout(() => (shim.sessionValid ? o.success({ errMsg: 'checkSession:ok' }) : o.fail({ errMsg: 'checkSession:fail session time out' })), 0);
    },

    getStorageSync(key: string): unknown {
      const v = shim.storage.get(key);
      return v === undefined ? '' : JSON.parse(v);
    },
    setStorageSync(key: string, data: unknown): void {
      shim.storage.set(key, JSON.stringify(data));
    },
    removeStorageSync(key: string): void {
      shim.storage.delete(key);
    },

    async phoneDetail(form, phoneNumber, countryCode = '86') {
      const r = await postJSON(`${opts.baseUrl}/sandbox/phone`, {
        appId: opts.appId,
        user: opts.user,
        phoneNumber,
        countryCode,
        form,
      });
      if (form === 'code') {
        if (typeof r.code !== 'string') throw new Error(`no code in ${JSON.stringify(r)}`);
        return { errMsg: 'getPhoneNumber:ok', code: r.code };
      }
      if (typeof r.encryptedData !== 'string' || typeof r.iv !== 'string') {
        throw new Error(`no encryptedData/iv in ${JSON.stringify(r)}`);
      }
      return { errMsg: 'getPhoneNumber:ok', encryptedData: r.encryptedData, iv: r.iv };
    },
  };
  return shim;
}
