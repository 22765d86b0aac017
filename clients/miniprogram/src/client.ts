import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import {
  DecryptPhoneNumberCodeDocument,
  DecryptPhoneNumberEncryptedDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshSessionDocument,
  type DecryptPhoneNumberCodeMutation,
  type LoginMutation,
  type MeQuery,
} from './generated/graphql';
import { WxidError, isWxidError, type GraphQLErrorEntry } from './errors';
import type { PhoneNumberDetail, PhoneNumberEvent, Timers, Wx } from './wx';

export type User = MeQuery['me'];
export type LoginResult = LoginMutation['login'];
export type PhoneNumberResult = DecryptPhoneNumberCodeMutation['decryptPhoneNumber'];

/** What the client keeps in storage. */
export interface StoredSession {
  skey: string;
  /** Server time (RFC 3339) when the skey expires unless refreshed. */
  expiresAt: string;
  openId: string;
  unionId: string | null;
  /** The appId sent at login (null: the server's default app). */
  appId: string | null;
  /** Local clock (ms) of the login or last rotation; drives the refresh timer. */
  refreshedAt: number;
}

export interface ClientOptions {
  /** wxid's GraphQL endpoint, e.g. https://id.example.com/graphql (must be in the request domain whitelist). */
  endpoint: string;
  /** The mini-program's appid, when wxid serves several apps; the server's default app otherwise. */
  appId?: string;
  /** Storage key of the session. Default "wxid.session". */
  storageKey?: string;
  /** How often the skey is rotated while the app is shown. Default 20 minutes; 0 turns the timer off. */
  refreshIntervalMs?: number;
  /** wx.request timeout. Default 10 s. */
  timeoutMs?: number;
  /** The wx API; defaults to the global `wx`. */
  wx?: Wx;
  /** Timer functions; defaults to setTimeout/clearTimeout/Date.now. */
  timers?: Timers;
  /** Called whenever the stored session changes (null: logged out). */
  onSessionChange?: (session: StoredSession | null) => void;
  /** Called with errors of background refreshes (which never throw). */
  onError?: (err: unknown) => void;
}

export interface RequestOptions {
  /** Send the skey (logging in first when there is none) and recover from UNAUTHENTICATED. Default true. */
  auth?: boolean;
}

/** A typed document from src/generated/graphql.ts, or a query string. */
export type Document<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> | string;

export interface WxidClient {
  /** wx.login() + the login mutation. Concurrent calls share one login. */
  login(): Promise<LoginResult>;
  /**
   * Runs an operation with the skey (logging in first when there is none). On
   * UNAUTHENTICATED it logs in again once and retries once.
   */
  request<TResult, TVariables = Record<string, never>>(
    document: Document<TResult, TVariables>,
    variables?: TVariables,
    options?: RequestOptions,
  ): Promise<TResult>;
  /** The caller. */
  me(): Promise<User>;
  /** Rotates the skey now (logs in again when it is gone). Concurrent calls share one rotation. */
  refresh(): Promise<StoredSession>;
  /** Revokes the skey on the server and forgets it. False when there was nothing to revoke. */
  logout(): Promise<boolean>;
  /** Verifies the phone number from a getPhoneNumber button event (either form) and stores it on the user. */
  bindPhoneNumber(event: PhoneNumberEvent): Promise<PhoneNumberResult>;
  /** Starts the refresh timer: call from App.onShow. */
  onShow(): void;
  /** Stops the refresh timer: call from App.onHide. */
  onHide(): void;
  /** The stored session, or null. */
  getSession(): StoredSession | null;
}

const DEFAULT_STORAGE_KEY = 'wxid.session';
const DEFAULT_REFRESH_INTERVAL_MS = 20 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 10_000;
/** After a failed background refresh, try again after at most this long. */
const REFRESH_RETRY_MS = 60_000;

declare const wx: Wx | undefined;
// The mini-program runtime's timers (module-local declarations: no DOM or Node typings needed).
declare function setTimeout(fn: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;

function globalWx(): Wx {
  if (typeof wx !== 'undefined' && wx) return wx;
  throw new Error('wxid: no global `wx`; pass createClient({ wx })');
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h),
  now: () => Date.now(),
};

export function createClient(options: ClientOptions): WxidClient {
  if (!options || !options.endpoint) throw new Error('wxid: createClient needs an endpoint');
  const endpoint = options.endpoint;
  const appId = options.appId ?? null;
  const storageKey = options.storageKey ?? DEFAULT_STORAGE_KEY;
  const interval = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timers = options.timers ?? defaultTimers;
  const api = (): Wx => options.wx ?? globalWx();

  let session: StoredSession | null = loadSession();
  let pendingLogin: Promise<LoginResult> | null = null;
  let pendingRefresh: Promise<StoredSession> | null = null;
  let shown = false;
  let timer: unknown = null;
  let lastRefreshFailure = 0;

  // ---- storage ----

  function loadSession(): StoredSession | null {
    let raw: unknown;
    try {
      raw = api().getStorageSync(storageKey);
    } catch {
      return null;
    }
    if (!raw || typeof raw !== 'object') return null;
    const s = raw as Partial<StoredSession>;
    if (typeof s.skey !== 'string' || !s.skey || (s.appId ?? null) !== appId) return null;
    return {
      skey: s.skey,
      expiresAt: String(s.expiresAt ?? ''),
      openId: String(s.openId ?? ''),
      unionId: s.unionId ?? null,
      appId,
      refreshedAt: typeof s.refreshedAt === 'number' ? s.refreshedAt : 0,
    };
  }

  function setSession(next: StoredSession | null): void {
    session = next;
    try {
      if (next) api().setStorageSync(storageKey, next);
      else api().removeStorageSync(storageKey);
    } catch {
      // Storage full or unavailable: the session still lives in memory.
    }
    if (options.onSessionChange) {
      try {
        options.onSessionChange(next);
      } catch {
        // A listener's bug must not break the session logic.
      }
    }
    schedule();
  }

  // ---- transport ----

  function exec<TResult, TVariables>(
    document: Document<TResult, TVariables>,
    variables: TVariables | undefined,
    skey: string | null,
  ): Promise<TResult> {
    return new Promise<TResult>((resolve, reject) => {
      const header: Record<string, string> = { 'content-type': 'application/json' };
      if (skey) header.authorization = `Bearer ${skey}`;
      try {
        api().request({
          url: endpoint,
          method: 'POST',
          data: { query: String(document), variables: (variables ?? {}) as Record<string, unknown> },
          header,
          timeout,
          dataType: 'json',
          success: (res) => {
            try {
              resolve(parseResponse<TResult>(res.statusCode, res.data));
            } catch (err) {
              reject(err);
            }
          },
          fail: (err) => reject(new WxidError('NETWORK_ERROR', (err && err.errMsg) || 'request:fail')),
        });
      } catch (err) {
        reject(new WxidError('NETWORK_ERROR', err instanceof Error ? err.message : String(err)));
      }
    });
  }

  function wxLogin(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      try {
        api().login({
          timeout,
          success: (res) => {
            if (res && res.code) resolve(res.code);
            else reject(new WxidError('WX_LOGIN_FAILED', (res && res.errMsg) || 'login:fail no code'));
          },
          fail: (err) => reject(new WxidError('WX_LOGIN_FAILED', (err && err.errMsg) || 'login:fail')),
        });
      } catch (err) {
        reject(new WxidError('WX_LOGIN_FAILED', err instanceof Error ? err.message : String(err)));
      }
    });
  }

  // ---- session operations ----

  function login(): Promise<LoginResult> {
    if (pendingLogin) return pendingLogin;
    const p = (async () => {
      const code = await wxLogin();
      const variables: { code: string; appId?: string } = { code };
      if (appId) variables.appId = appId;
      const { login: result } = await exec(LoginDocument, variables, null);
      setSession({
        skey: result.skey,
        expiresAt: result.expiresAt,
        openId: result.openId,
        unionId: result.unionId,
        appId,
        refreshedAt: timers.now(),
      });
      return result;
    })();
    pendingLogin = p;
    const clear = () => {
      if (pendingLogin === p) pendingLogin = null;
    };
    p.then(clear, clear);
    return p;
  }

  async function loginSession(): Promise<StoredSession> {
    await login();
    if (!session) throw new WxidError('UNAUTHENTICATED', 'logged out during login');
    return session;
  }

  function refresh(): Promise<StoredSession> {
    if (pendingRefresh) return pendingRefresh;
    const p = (async (): Promise<StoredSession> => {
      if (pendingLogin) return loginSession(); // a fresh login needs no rotation
      const current = session;
      if (!current) return loginSession();
      try {
        const { refreshSession: r } = await exec(RefreshSessionDocument, undefined, current.skey);
        const next: StoredSession = { ...current, skey: r.skey, expiresAt: r.expiresAt, refreshedAt: timers.now() };
        // Do not resurrect a session that was logged out or replaced meanwhile.
        if (session && session.skey === current.skey) setSession(next);
        return session ?? next;
      } catch (err) {
        if (!isWxidError(err, 'UNAUTHENTICATED')) throw err;
        if (session && session.skey !== current.skey) return session;
        if (session) setSession(null);
        return loginSession();
      }
    })();
    pendingRefresh = p;
    const clear = () => {
      if (pendingRefresh === p) pendingRefresh = null;
    };
    p.then(clear, clear);
    return p;
  }

  async function currentSkey(): Promise<string> {
    if (session) return session.skey;
    return (await login()).skey;
  }

  /** After `failed` was refused: the skey to retry with, logging in when needed. */
  async function recover(failed: string): Promise<string> {
    if (pendingLogin) return (await pendingLogin).skey;
    if (pendingRefresh) {
      try {
        const s = await pendingRefresh;
        if (s.skey !== failed) return s.skey;
      } catch {
        // fall through to a login
      }
    }
    if (session && session.skey !== failed) return session.skey;
    if (session) setSession(null);
    return (await login()).skey;
  }

  async function request<TResult, TVariables = Record<string, never>>(
    document: Document<TResult, TVariables>,
    variables?: TVariables,
    opts: RequestOptions = {},
  ): Promise<TResult> {
    if (opts.auth === false) return exec(document, variables, null);
    const skey = await currentSkey();
    try {
      return await exec(document, variables, skey);
    } catch (err) {
      if (!isWxidError(err, 'UNAUTHENTICATED')) throw err;
      return exec(document, variables, await recover(skey));
    }
  }

  async function logout(): Promise<boolean> {
    if (pendingLogin) await pendingLogin.catch(() => undefined);
    const current = session;
    if (!current) return false;
    try {
      return (await exec(LogoutDocument, undefined, current.skey)).logout;
    } catch (err) {
      if (isWxidError(err, 'UNAUTHENTICATED')) return false;
      throw err;
    } finally {
      if (session && session.skey === current.skey) setSession(null);
    }
  }

  async function bindPhoneNumber(event: PhoneNumberEvent): Promise<PhoneNumberResult> {
    const detail = phoneDetail(event);
    if (detail.code) {
      return (await request(DecryptPhoneNumberCodeDocument, { code: detail.code })).decryptPhoneNumber;
    }
    if (detail.encryptedData && detail.iv) {
      return (await request(DecryptPhoneNumberEncryptedDocument, { encryptedData: detail.encryptedData, iv: detail.iv }))
        .decryptPhoneNumber;
    }
    throw new WxidError('PHONE_DENIED', detail.errMsg || 'getPhoneNumber: no phone number in the event');
  }

  // ---- refresh timer ----

  function schedule(): void {
    if (timer !== null) {
      timers.clearTimeout(timer);
      timer = null;
    }
    if (!shown || !(interval > 0) || !session) return;
    const now = timers.now();
    let due = session.refreshedAt + interval;
    if (lastRefreshFailure > 0) due = Math.max(due, lastRefreshFailure + Math.min(interval, REFRESH_RETRY_MS));
    timer = timers.setTimeout(tick, Math.max(0, Math.min(due - now, interval)));
  }

  function tick(): void {
    timer = null;
    if (!shown || !session) return;
    refresh().then(
      () => {
        lastRefreshFailure = 0;
        if (timer === null) schedule();
      },
      (err) => {
        lastRefreshFailure = timers.now();
        if (options.onError) {
          try {
            options.onError(err);
          } catch {
            // ignore
          }
        }
        if (timer === null) schedule();
      },
    );
  }

  return {
    login,
    request,
    me: async () => (await request(MeDocument)).me,
    refresh,
    logout,
    bindPhoneNumber,
    onShow() {
      shown = true;
      schedule();
    },
    onHide() {
      shown = false;
      schedule();
    },
    getSession: () => (session ? { ...session } : null),
  };
}

function phoneDetail(event: PhoneNumberEvent): PhoneNumberDetail {
  if (event && typeof event === 'object' && 'detail' in event && event.detail && typeof event.detail === 'object') {
    return event.detail;
  }
  return (event ?? {}) as PhoneNumberDetail;
}

/** Turns a GraphQL-over-HTTP answer into data or a WxidError. */
export function parseResponse<TResult>(statusCode: number, body: unknown): TResult {
  let payload = body;
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload);
    } catch {
      // not JSON; handled below
    }
  }
  const obj = payload && typeof payload === 'object' ? (payload as { data?: unknown; errors?: unknown }) : null;
  const errors = obj && Array.isArray(obj.errors) ? (obj.errors as GraphQLErrorEntry[]) : [];
  if (errors.length > 0) {
    const unauth = errors.find((e) => e && e.extensions && e.extensions.code === 'UNAUTHENTICATED');
    const first = unauth ?? errors[0];
    const code = (first && first.extensions && first.extensions.code) || (statusCode === 401 ? 'UNAUTHENTICATED' : 'INTERNAL');
    throw new WxidError(code, (first && first.message) || code, { errors, statusCode });
  }
  if (statusCode === 401) throw new WxidError('UNAUTHENTICATED', 'unauthenticated', { statusCode });
  if (statusCode < 200 || statusCode >= 300) {
    throw new WxidError('HTTP_ERROR', `wxid answered HTTP ${statusCode}`, { statusCode });
  }
  if (!obj || obj.data == null || typeof obj.data !== 'object') {
    throw new WxidError('BAD_RESPONSE', 'not a GraphQL response', { statusCode });
  }
  return obj.data as TResult;
}
