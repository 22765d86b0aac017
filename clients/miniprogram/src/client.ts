import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
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
  type DecryptPhoneNumberCodeMutation,
  type DeleteMyAccountMutation,
  type ExportMyDataQuery,
  type LoginMutation,
  type LogoutEverywhereMutation,
  type MeQuery,
  type MySessionsQuery,
  type RevokeMySessionMutation,
  type UpdateProfileMutation,
} from './generated/graphql';
import { WxidError, isWxidError, type GraphQLErrorEntry } from './errors';
import { SESSION_ENDING_OPERATIONS, operationInfo, type OperationInfo } from './operation';
import { failMessage, invoke, type PhoneNumberDetail, type PhoneNumberEvent, type Timers, type Wx, type WxLoginSuccessResult, type WxRequestSuccessResult } from './wx';

/** The caller's account, as `me` returns it. */
export type User = MeQuery['me'];
/** What `login()` resolves to. */
export type LoginResult = LoginMutation['login'];
/** What `bindPhoneNumber()` resolves to. */
export type PhoneNumberResult = DecryptPhoneNumberCodeMutation['decryptPhoneNumber'];
/** One of the caller's sessions (devices), as `mySessions()` lists them. */
export type MySession = MySessionsQuery['mySessions'][number];
/** A profile change: a field left out stays, "" clears it. */
export interface ProfileChange {
  nickname?: string | null;
  avatarUrl?: string | null;
}

/** What the client keeps in storage. */
export interface StoredSession {
  skey: string;
  /** Server time (RFC 3339) when the skey expires unless refreshed. */
  expiresAt: string;
  openId: string;
  unionId: string | null;
  /** The appId sent at login (null: the server's default app). */
  appId: string | null;
  /** Local clock (ms) when the skey arrived (login or rotation). */
  refreshedAt: number;
  /**
   * The skey's lifetime as the server gave it: `expiresAt` minus the server's
   * clock (its `Date` header) when it answered. Counted from `refreshedAt` on
   * the local clock, so a phone whose clock is off still refreshes in time.
   */
  lifetimeMs: number;
}

/** Retries of queries that failed on the way (never of mutations). */
export interface RetryOptions {
  /** How many times a query is sent again after a network failure. Default 3; 0 turns retries off. */
  retries?: number;
  /** The first wait; each further wait doubles, with jitter. Default 500 ms. */
  baseDelayMs?: number;
  /** The longest wait, and the longest `retryAfter` the client waits for. Default 8 s. */
  maxDelayMs?: number;
}

/** Options of `createClient`. */
export interface ClientOptions {
  /** wxid's GraphQL endpoint, e.g. https://id.example.com/graphql (must be in the request domain list). */
  endpoint: string;
  /** The mini-program's appid, when wxid serves several apps; the server's default app otherwise. */
  appId?: string;
  /** Storage key of the session. Default "wxid.session". */
  storageKey?: string;
  /**
   * Rotate the skey in the background while the app is shown, once two thirds
   * of its lifetime (from the server's `expiresAt`) have passed, and at
   * `onShow` when that point is already behind. Default true.
   */
  autoRefresh?: boolean;
  /** Retries of queries after network failures; `false` turns them off. */
  retry?: RetryOptions | false;
  /** wx.request / wx.login timeout. Default 10 s. */
  timeoutMs?: number;
  /** The mini-program API: the global `wx` by default; pass `Taro` in a Taro project. */
  wx?: Wx;
  /** Timer functions and clock; default setTimeout/clearTimeout/Date.now. */
  timers?: Timers;
  /** Called whenever the stored session changes (null: logged out). */
  onSessionChange?: (session: StoredSession | null) => void;
  /** Called with errors of background work (refreshes, the launch check), which never throws. */
  onError?: (err: unknown) => void;
}

/** Per-call options of `request()`. */
export interface RequestOptions {
  /** Send the skey (logging in first when there is none) and recover from UNAUTHENTICATED. Default true. */
  auth?: boolean;
}

/** A typed document from src/generated/graphql.ts (or any TypedDocumentString), or a query string. */
export type Document<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> | string;

/**
 * The arguments of `request()` after the document: the variables are
 * required exactly when the operation has a required variable.
 */
export type RequestArgs<TVariables> = {} extends TVariables
  ? [variables?: TVariables, options?: RequestOptions]
  : [variables: TVariables, options?: RequestOptions];

/** A client made by `createClient`. */
export interface WxidClient {
  /**
   * A fresh wx.login() and the login mutation. Concurrent calls share one
   * login; a code WeChat rejects (INVALID_CODE) is replaced by a fresh one once.
   */
  login(): Promise<LoginResult>;
  /**
   * Runs an operation with the skey (logging in first when there is none). On
   * UNAUTHENTICATED it logs in again once and retries once; a query that
   * fails on the way is sent again with backoff.
   */
  request<TResult = unknown, TVariables = Record<string, unknown>>(
    document: Document<TResult, TVariables>,
    ...args: RequestArgs<TVariables>
  ): Promise<TResult>;
  /** The caller. */
  me(): Promise<User>;
  /** Rotates the skey now (logs in again when it is gone). Concurrent calls share one rotation. */
  refresh(): Promise<StoredSession>;
  /** Revokes the skey on the server and forgets it. False when there was nothing to revoke. */
  logout(): Promise<boolean>;
  /** The caller's live sessions (devices), newest first; `current` marks this one. */
  mySessions(): Promise<MySession[]>;
  /** Ends one of the caller's sessions; rejects with NOT_FOUND for an ID that is not one of them. */
  revokeMySession(id: string): Promise<boolean>;
  /** Ends every session of the caller, this one included, and forgets the skey; how many ended. */
  logoutEverywhere(): Promise<number>;
  /**
   * Changes the nickname and avatar. BAD_USER_INPUT (with a message the page
   * can show) for a nickname WeChat finds risky or that breaks the rules.
   */
  updateProfile(change: ProfileChange): Promise<User>;
  /** Account cancellation: erases the caller on the server and forgets the skey. */
  deleteMyAccount(): Promise<boolean>;
  /** Everything wxid stores about the caller, as one JSON object. */
  exportMyData(): Promise<unknown>;
  /**
   * Verifies the phone number of a getPhoneNumber button event and stores it
   * on the user. Prefers the event's `code`; with only `encryptedData` + `iv`
   * it never calls wx.login() and rejects with PHONE_SESSION_EXPIRED when the
   * session the data was encrypted for is gone.
   */
  bindPhoneNumber(event: PhoneNumberEvent): Promise<PhoneNumberResult>;
  /**
   * Call from App.onLaunch: wx.checkSession() decides whether the stored
   * session still matches WeChat's session_key (else a fresh login replaces
   * it), and logs in when nothing is stored. Never rejects (see onError).
   */
  onLaunch(): Promise<void>;
  /** Call from App.onShow: starts the refresh timer (and refreshes at once when due). */
  onShow(): void;
  /** Call from App.onHide: stops the refresh timer. */
  onHide(): void;
  /** The stored session, or null. */
  getSession(): StoredSession | null;
}

const DEFAULT_STORAGE_KEY = 'wxid.session';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Refresh once this share of the skey's lifetime has passed. */
const REFRESH_AT = 2 / 3;
/** Never refresh more often than this, whatever the server says. */
const MIN_REFRESH_DELAY_MS = 1_000;
/** After a failed background refresh, try again after at most this long. */
const REFRESH_RETRY_MS = 60_000;
/** The longest setTimeout a mini-program runtime honours (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;
const DEFAULT_RETRY: Required<RetryOptions> = { retries: 3, baseDelayMs: 500, maxDelayMs: 8_000 };
/** HTTP statuses of a proxy in front of wxid that a retry may get past. */
const RETRY_STATUSES = [502, 503, 504];

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

const noop = () => undefined;

/** One answer of wxid: the data and the server's clock (ms) when it answered, if it said. */
interface Answer<TResult> {
  data: TResult;
  serverTime: number | null;
}

/** Creates a client. It does no I/O until it is used. */
export function createClient(options: ClientOptions): WxidClient {
  if (!options || !options.endpoint) throw new Error('wxid: createClient needs an endpoint');
  const endpoint = options.endpoint;
  const appId = options.appId ?? null;
  const storageKey = options.storageKey ?? DEFAULT_STORAGE_KEY;
  const autoRefresh = options.autoRefresh ?? true;
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retry: Required<RetryOptions> = options.retry === false ? { ...DEFAULT_RETRY, retries: 0 } : { ...DEFAULT_RETRY, ...options.retry };
  const timers = options.timers ?? defaultTimers;
  const api = (): Wx => options.wx ?? globalWx();

  let session: StoredSession | null = loadSession();
  let pendingLogin: Promise<LoginResult> | null = null;
  let pendingRefresh: Promise<StoredSession> | null = null;
  let pendingRotation: Promise<StoredSession> | null = null;
  let shown = false;
  let timer: unknown = null;
  let refreshRetryAt = 0;
  // The launch check runs once, and only for a session stored by an earlier launch.
  let launchDone = session === null;
  let launch: Promise<void> | null = null;
  // wx.login() calls started and still running: the old-form phone flow compares them.
  let wxLoginsStarted = 0;
  let wxLoginsRunning = 0;

  function report(err: unknown): void {
    if (!options.onError) return;
    try {
      options.onError(err);
    } catch {
      // A listener's bug must not break the session logic.
    }
  }

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
    const expiresAt = String(s.expiresAt ?? '');
    const refreshedAt = typeof s.refreshedAt === 'number' ? s.refreshedAt : 0;
    const lifetimeMs =
      typeof s.lifetimeMs === 'number' && s.lifetimeMs >= 0 ? s.lifetimeMs : Math.max(0, (Date.parse(expiresAt) || 0) - refreshedAt);
    return { skey: s.skey, expiresAt, openId: String(s.openId ?? ''), unionId: s.unionId ?? null, appId, refreshedAt, lifetimeMs };
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
    refreshRetryAt = 0;
    schedule();
  }

  /** Forgets `s` unless another session replaced it meanwhile. */
  function forget(s: StoredSession): void {
    if (session && session.skey === s.skey) setSession(null);
  }

  function issued(skey: string, expiresAt: string, serverTime: number | null, base: Pick<StoredSession, 'openId' | 'unionId'>): StoredSession {
    const now = timers.now();
    // `Date` has whole seconds: the server's clock was up to 999 ms past it.
    // Without it, the local clock stands in.
    const serverNow = serverTime === null ? now : serverTime + 999;
    const lifetimeMs = Math.max(0, (Date.parse(expiresAt) || serverNow) - serverNow);
    return { skey, expiresAt, openId: base.openId, unionId: base.unionId, appId, refreshedAt: now, lifetimeMs };
  }

  /** Local time at which `s` should be rotated. */
  function refreshDue(s: StoredSession): number {
    return s.refreshedAt + Math.max(s.lifetimeMs * REFRESH_AT, MIN_REFRESH_DELAY_MS);
  }

  // ---- transport ----

  /** One POST to wxid. */
  function send<TResult>(document: string, variables: unknown, skey: string | null): Promise<Answer<TResult>> {
    const header: Record<string, string> = { 'content-type': 'application/json' };
    if (skey) header.authorization = `Bearer ${skey}`;
    return invoke<WxRequestSuccessResult>((cb) =>
      api().request({
        url: endpoint,
        method: 'POST',
        data: { query: document, variables: (variables ?? {}) as Record<string, unknown> },
        header,
        timeout,
        dataType: 'json',
        success: cb.success,
        fail: cb.fail,
      }),
    ).then(
      (res) => ({ data: parseResponse<TResult>(res.statusCode, res.data), serverTime: dateHeader(res.header) }),
      (err: unknown) => {
        throw new WxidError('NETWORK_ERROR', failMessage(err, 'request:fail'));
      },
    );
  }

  /** send(), plus retries with backoff when a query failed on the way. */
  async function exec<TResult>(document: string, variables: unknown, skey: string | null, op: OperationInfo): Promise<Answer<TResult>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send<TResult>(document, variables, skey);
      } catch (err) {
        const wait = op.kind === 'query' && attempt < retry.retries ? retryDelay(err, attempt) : null;
        if (wait === null) throw err;
        await new Promise<void>((resolve) => timers.setTimeout(resolve, wait));
      }
    }
  }

  /** How long to wait before resending after err, or null when a resend cannot help. */
  function retryDelay(err: unknown, attempt: number): number | null {
    if (!(err instanceof WxidError)) return null;
    const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    if (err.code === 'NETWORK_ERROR') return backoff;
    if (err.code === 'HTTP_ERROR' && err.statusCode !== undefined && RETRY_STATUSES.indexOf(err.statusCode) >= 0) return backoff;
    if (err.code === 'UNAVAILABLE') {
      if (err.retryAfter === undefined) return backoff;
      return err.retryAfter * 1000 <= retry.maxDelayMs ? Math.max(backoff, err.retryAfter * 1000) : null;
    }
    return null;
  }

  function wxLogin(): Promise<string> {
    wxLoginsStarted++;
    wxLoginsRunning++;
    return invoke<WxLoginSuccessResult>((cb) => api().login({ timeout, success: cb.success, fail: cb.fail }))
      .then(
        (res) => {
          wxLoginsRunning--;
          if (res && res.code) return res.code;
          throw new WxidError('WX_LOGIN_FAILED', failMessage(res, 'login:fail no code'));
        },
        (err: unknown) => {
          wxLoginsRunning--;
          throw new WxidError('WX_LOGIN_FAILED', failMessage(err, 'login:fail'));
        },
      );
  }

  // ---- session operations ----

  function login(): Promise<LoginResult> {
    if (pendingLogin) return pendingLogin;
    const p = (async () => {
      const attempt = async () => {
        const variables: { code: string; appId?: string } = { code: await wxLogin() };
        if (appId) variables.appId = appId;
        return send<LoginMutation>(String(LoginDocument), variables, null);
      };
      let answer: Answer<LoginMutation>;
      try {
        answer = await attempt();
      } catch (err) {
        // A stale or reused code: once more with a fresh one.
        if (!isWxidError(err, 'INVALID_CODE')) throw err;
        answer = await attempt();
      }
      const result = answer.data.login;
      launchDone = true; // a fresh login is what the launch check would ask for
      setSession(issued(result.skey, result.expiresAt, answer.serverTime, result));
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

  /** The launch check, once: a stored session whose WeChat session_key lapsed is replaced by a fresh login. */
  function launched(): Promise<void> {
    if (launchDone) return Promise.resolve();
    if (!launch) {
      launch = (async () => {
        const w = api();
        if (typeof w.checkSession !== 'function') return;
        const valid = await invoke<unknown>((cb) => w.checkSession!(cb)).then(
          () => true,
          () => false,
        );
        const stale = session;
        if (valid || !stale || launchDone) return;
        await login();
        // The stale skey still works on the server: end it rather than leave it to expire.
        if (session && session.skey !== stale.skey) send(String(LogoutDocument), {}, stale.skey).catch(noop);
      })().then(
        () => {
          launchDone = true;
        },
        (err: unknown) => {
          launchDone = true; // the stored skey still works for everything but old-form phone data
          report(err);
        },
      );
    }
    return launch;
  }

  /** The RefreshSession mutation with the current skey; never logs in. Concurrent calls share one. */
  function rotate(): Promise<StoredSession> {
    if (pendingRotation) return pendingRotation;
    const p = (async (): Promise<StoredSession> => {
      const current = session;
      if (!current) throw new WxidError('UNAUTHENTICATED', 'not logged in');
      try {
        const answer = await send<{ refreshSession: { skey: string; expiresAt: string } }>(
          String(RefreshSessionDocument),
          {},
          current.skey,
        );
        const r = answer.data.refreshSession;
        const next = issued(r.skey, r.expiresAt, answer.serverTime, current);
        // Do not resurrect a session that was logged out or replaced meanwhile.
        if (session && session.skey === current.skey) setSession(next);
        return session ?? next;
      } catch (err) {
        if (isWxidError(err, 'UNAUTHENTICATED') && session && session.skey !== current.skey) return session;
        throw err;
      }
    })();
    pendingRotation = p;
    const clear = () => {
      if (pendingRotation === p) pendingRotation = null;
    };
    p.then(clear, clear);
    return p;
  }

  function refresh(): Promise<StoredSession> {
    if (pendingRefresh) return pendingRefresh;
    const p = (async (): Promise<StoredSession> => {
      const before = session;
      await launched();
      if (pendingLogin || !session) return loginSession(); // a fresh login needs no rotation
      if (session !== before) return session; // the launch check just logged in
      const current = session;
      try {
        return await rotate();
      } catch (err) {
        if (!isWxidError(err, 'UNAUTHENTICATED')) throw err;
        forget(current);
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

  async function request(document: Document<unknown, never>, variables?: unknown, opts: RequestOptions = {}): Promise<unknown> {
    const text = String(document);
    const op = operationInfo(text);
    if (opts.auth === false) return (await exec(text, variables, null, op)).data;
    if (SESSION_ENDING_OPERATIONS.has(op.name)) return endSession(text, variables, op);
    await launched();
    const skey = await currentSkey();
    try {
      return (await exec(text, variables, skey, op)).data;
    } catch (err) {
      if (!isWxidError(err, 'UNAUTHENTICATED')) throw err;
      return (await exec(text, variables, await recover(skey), op)).data;
    }
  }

  /** An operation that ends the caller's session: never logs in for it, forgets the skey after. */
  async function endSession(text: string, variables: unknown, op: OperationInfo): Promise<unknown> {
    if (pendingLogin) await pendingLogin.catch(noop);
    const current = session;
    if (!current) throw new WxidError('UNAUTHENTICATED', 'not logged in');
    try {
      const { data } = await exec(text, variables, current.skey, op);
      forget(current);
      return data;
    } catch (err) {
      if (isWxidError(err, 'UNAUTHENTICATED')) forget(current);
      throw err;
    }
  }

  async function logout(): Promise<boolean> {
    try {
      return (await request(LogoutDocument) as { logout: boolean }).logout;
    } catch (err) {
      if (isWxidError(err, 'UNAUTHENTICATED')) return false;
      throw err;
    }
  }

  async function bindPhoneNumber(event: PhoneNumberEvent): Promise<PhoneNumberResult> {
    const detail = phoneDetail(event);
    if (detail.code) {
      // The new form does not depend on the session_key: logging in again is harmless.
      const r = (await request(DecryptPhoneNumberCodeDocument, { code: detail.code })) as DecryptPhoneNumberCodeMutation;
      return r.decryptPhoneNumber;
    }
    if (detail.encryptedData && detail.iv) return bindEncrypted(detail.encryptedData, detail.iv);
    throw new WxidError('PHONE_DENIED', detail.errMsg || 'getPhoneNumber: no phone number in the event');
  }

  /**
   * The old form, encrypted under the session_key of the phone's last
   * wx.login() before the tap. It only decrypts with the session that login
   * made, so no wx.login() may happen here: an skey near its end is rotated
   * (refreshSession keeps the session_key), a lapsed one is PHONE_SESSION_EXPIRED.
   */
  async function bindEncrypted(encryptedData: string, iv: string): Promise<PhoneNumberResult> {
    const loginsAtTap = wxLoginsStarted;
    const loginRunningAtTap = wxLoginsRunning > 0;
    const replaced = () => wxLoginsStarted !== loginsAtTap || loginRunningAtTap;
    const lapsed = (original?: unknown) =>
      new WxidError(
        'PHONE_SESSION_EXPIRED',
        replaced()
          ? 'the session changed after the tap: the phone data cannot be decrypted; ask for the tap again'
          : 'the session expired before the phone data could be decrypted: log in, then ask for the tap again',
        { original },
      );
    // A login or launch check already under way finishes first (none is started here).
    if (pendingLogin) await pendingLogin.catch(noop);
    else if (launch && !launchDone) await launch;
    let current = session;
    if (!current) throw lapsed();
    if (timers.now() >= refreshDue(current)) {
      try {
        current = await rotate();
      } catch (err) {
        if (!isWxidError(err, 'UNAUTHENTICATED')) throw err;
        forget(current);
        throw lapsed(err);
      }
    }
    try {
      const { data } = await send<DecryptPhoneNumberCodeMutation>(String(DecryptPhoneNumberEncryptedDocument), { encryptedData, iv }, current.skey);
      return data.decryptPhoneNumber;
    } catch (err) {
      if (isWxidError(err, 'UNAUTHENTICATED')) {
        forget(current);
        throw lapsed(err);
      }
      if (isWxidError(err, 'DECRYPT_FAILED') && replaced()) throw lapsed(err);
      throw err;
    }
  }

  // ---- refresh timer ----

  function schedule(): void {
    if (timer !== null) {
      timers.clearTimeout(timer);
      timer = null;
    }
    if (!shown || !autoRefresh || !session) return;
    const due = Math.max(refreshDue(session), refreshRetryAt);
    timer = timers.setTimeout(tick, Math.min(MAX_TIMER_MS, Math.max(0, due - timers.now())));
  }

  function tick(): void {
    timer = null;
    if (!shown || !session) return;
    if (timers.now() < Math.max(refreshDue(session), refreshRetryAt)) return schedule(); // a capped timer
    refresh().then(
      () => {
        refreshRetryAt = 0;
        if (timer === null) schedule();
      },
      (err: unknown) => {
        const now = timers.now();
        const left = session ? session.refreshedAt + session.lifetimeMs - now : 0;
        refreshRetryAt = now + (left > 0 ? Math.min(REFRESH_RETRY_MS, Math.max(MIN_REFRESH_DELAY_MS, left / 2)) : REFRESH_RETRY_MS);
        report(err);
        schedule();
      },
    );
  }

  return {
    login,
    request: request as WxidClient['request'],
    me: async () => ((await request(MeDocument)) as MeQuery).me,
    refresh,
    logout,
    mySessions: async () => ((await request(MySessionsDocument)) as MySessionsQuery).mySessions,
    revokeMySession: async (id: string) =>
      ((await request(RevokeMySessionDocument, { id })) as RevokeMySessionMutation).revokeMySession,
    logoutEverywhere: async () => ((await request(LogoutEverywhereDocument)) as LogoutEverywhereMutation).logoutEverywhere,
    updateProfile: async (change: ProfileChange) =>
      ((await request(UpdateProfileDocument, change)) as UpdateProfileMutation).updateProfile,
    deleteMyAccount: async () => ((await request(DeleteMyAccountDocument)) as DeleteMyAccountMutation).deleteMyAccount,
    exportMyData: async () => ((await request(ExportMyDataDocument)) as ExportMyDataQuery).exportMyData,
    bindPhoneNumber,
    async onLaunch() {
      await launched();
      if (session || pendingLogin) return;
      try {
        await login();
      } catch (err) {
        report(err);
      }
    },
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

/** The `Date` response header as ms since the epoch, or null. */
function dateHeader(header: Record<string, unknown> | undefined): number | null {
  if (!header || typeof header !== 'object') return null;
  for (const k of Object.keys(header)) {
    if (k.toLowerCase() !== 'date') continue;
    const t = Date.parse(String(header[k]));
    return Number.isFinite(t) ? t : null;
  }
  return null;
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
