// Unit tests of the client's logic against an in-memory fake of wx and wxid.
// The live tests (live.test.ts) run the same client against a real server.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createClient, DecryptPhoneNumberCodeDocument, isWxidError, LogoutDocument, parseResponse, WxidError, type StoredSession } from '../src/index';
import type { TaroLike, TaroRequestResult } from './taro';
import type { Timers, Wx, WxCheckSessionOptions, WxRequestOptions, WxLoginOptions } from '../src/wx';

type Answer = { statusCode: number; data: unknown };

const MINUTE = 60_000;

/** Manually advanced timers and clock. */
class FakeTimers implements Timers {
  t = Date.parse('2030-01-01T00:00:00Z');
  private seq = 0;
  pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  now(): number {
    return this.t;
  }
  /** The delay of the one pending timer, or null. */
  delay(): number | null {
    assert.ok(this.pending.size <= 1, `more than one timer pending: ${this.pending.size}`);
    const [e] = [...this.pending.values()];
    return e ? e.at - this.t : null;
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = [...this.pending.entries()].filter(([, e]) => e.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
    await settle();
  }
}

/**
 * A fake wx whose wx.request is answered by a tiny in-memory wxid. The fake
 * server's clock is the fake timers' clock plus `skew`; skeys expire `ttl`
 * after they are issued, and every answer carries a `Date` header.
 */
class FakeWx implements Wx {
  loginCalls = 0;
  checkSessionCalls = 0;
  /** What wx.checkSession says. */
  wechatSessionValid = true;
  ops: Array<{ op: string; skey?: string; variables: Record<string, unknown> }> = [];
  storage = new Map<string, unknown>();
  /** Live skeys and their expiry (server clock). */
  valid = new Map<string, number>();
  next = 0;
  ttl = 30 * MINUTE;
  skew = 0;
  sendDate = true;
  /** Per operation: override the answer. */
  override: Record<string, (skey: string | undefined, vars: Record<string, unknown>) => Answer | undefined> = {};
  /** How many of the next requests fail on the way (-1: all). */
  failRequests = 0;
  failLogin = false;

  constructor(readonly timers: FakeTimers = new FakeTimers()) {}

  serverNow(): number {
    return this.timers.now() + this.skew;
  }

  request(o: WxRequestOptions): void {
    const query = String(o.data.query);
    const op = /(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? '?';
    const auth = o.header.authorization;
    const skey = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const variables = (o.data.variables ?? {}) as Record<string, unknown>;
    this.ops.push({ op, skey, variables });
    setImmediate(() => {
      if (this.failRequests !== 0) {
        if (this.failRequests > 0) this.failRequests--;
        return o.fail({ errMsg: 'request:fail timeout' });
      }
      const a = this.override[op]?.(skey, variables) ?? this.answer(op, skey, variables);
      const header: Record<string, string> = { 'Content-Type': 'application/json' };
      if (this.sendDate) header.Date = new Date(this.serverNow()).toUTCString();
      o.success({ statusCode: a.statusCode, data: a.data, header });
    });
  }

  login(o: WxLoginOptions): void {
    this.loginCalls++;
    this.wechatSessionValid = true;
    setImmediate(() => (this.failLogin ? o.fail({ errMsg: 'login:fail' }) : o.success({ code: `code${this.loginCalls}`, errMsg: 'login:ok' })));
  }

  checkSession(o: WxCheckSessionOptions): void {
    this.checkSessionCalls++;
    setImmediate(() => (this.wechatSessionValid ? o.success({ errMsg: 'checkSession:ok' }) : o.fail({ errMsg: 'checkSession:fail session time out' })));
  }

  getStorageSync(key: string): unknown {
    return this.storage.has(key) ? JSON.parse(JSON.stringify(this.storage.get(key))) : '';
  }
  setStorageSync(key: string, data: unknown): void {
    this.storage.set(key, JSON.parse(JSON.stringify(data)));
  }
  removeStorageSync(key: string): void {
    this.storage.delete(key);
  }

  issue(): { skey: string; expiresAt: string } {
    const skey = `skey${++this.next}`;
    const exp = this.serverNow() + this.ttl;
    this.valid.set(skey, exp);
    return { skey, expiresAt: new Date(exp).toISOString() };
  }

  live(skey: string | undefined): boolean {
    const exp = skey ? this.valid.get(skey) : undefined;
    return exp !== undefined && this.serverNow() < exp;
  }

  private answer(op: string, skey: string | undefined, vars: Record<string, unknown>): Answer {
    const unauth = { statusCode: 200, data: { data: null, errors: [{ message: 'log in again', extensions: { code: 'UNAUTHENTICATED' } }] } };
    const user = { id: '1', unionId: null, phoneNumber: null, purePhoneNumber: null, countryCode: null, phoneVerifiedAt: null, createdAt: '2024-01-01T00:00:00Z', lastLoginAt: null, openIds: [] };
    const ok = (data: unknown) => ({ statusCode: 200, data: { data } });
    if (op === 'Login') {
      return ok({ login: { ...this.issue(), isNewUser: false, openId: 'o1', unionId: null, user } });
    }
    if (!this.live(skey)) return unauth;
    switch (op) {
      case 'Me':
        return ok({ me: user });
      case 'RefreshSession':
        return ok({ refreshSession: this.issue() });
      case 'Logout':
        this.valid.delete(skey!);
        return ok({ logout: true });
      case 'DecryptPhoneNumberCode':
      case 'DecryptPhoneNumberEncrypted':
        return ok({ decryptPhoneNumber: { phoneNumber: '+8613800138000', purePhoneNumber: '13800138000', countryCode: '86', user, via: vars } });
    }
    return { statusCode: 200, data: { errors: [{ message: 'unknown op', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] } };
  }

  count(op: string): number {
    return this.ops.filter((o) => o.op === op).length;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const codeIs = (code: string) => (e: unknown) => isWxidError(e, code);

const endpoint = 'https://wxid.test/graphql';

describe('client logic (fake wx)', () => {
  it('concurrent requests share one wx.login', async () => {
    const wx = new FakeWx();
    const c = createClient({ endpoint, wx });
    const users = await Promise.all([c.me(), c.me(), c.me(), c.me(), c.refresh().then(() => c.me())]);
    assert.equal(users.length, 5);
    assert.equal(wx.loginCalls, 1);
    assert.equal(wx.count('Login'), 1);
  });

  it('reuses the stored skey across client instances', async () => {
    const wx = new FakeWx();
    await createClient({ endpoint, wx }).login();
    const c2 = createClient({ endpoint, wx });
    await c2.me();
    assert.equal(wx.loginCalls, 1);
    // A session stored for another appId is not used.
    const c3 = createClient({ endpoint, wx, appId: 'wxother' });
    assert.equal(c3.getSession(), null);
  });

  it('on UNAUTHENTICATED logs in again once and retries once', async () => {
    const wx = new FakeWx();
    const c = createClient({ endpoint, wx });
    await c.login();
    wx.valid.clear(); // the server forgot every skey
    await c.me();
    assert.equal(wx.loginCalls, 2);
    assert.equal(wx.count('Me'), 2);

    // A server that keeps refusing: exactly one re-login, one retry, then the error.
    wx.override.Me = () => ({ statusCode: 200, data: { errors: [{ message: 'no', extensions: { code: 'UNAUTHENTICATED' } }] } });
    await assert.rejects(c.me(), (e: unknown) => isWxidError(e, 'UNAUTHENTICATED'));
    assert.equal(wx.loginCalls, 3);
    assert.equal(wx.count('Me'), 4);
  });

  it('concurrent UNAUTHENTICATED answers cause one re-login', async () => {
    const wx = new FakeWx();
    const c = createClient({ endpoint, wx });
    await c.login();
    wx.valid.clear();
    await Promise.all([c.me(), c.me(), c.me(), c.me()]);
    assert.equal(wx.loginCalls, 2);
  });

  it('does not retry other errors, and maps them to codes', async () => {
    const wx = new FakeWx();
    const c = createClient({ endpoint, wx });
    wx.override.Me = () => ({ statusCode: 200, data: { data: null, errors: [{ message: 'boom', extensions: { code: 'INTERNAL' } }] } });
    await assert.rejects(c.me(), (e: unknown) => e instanceof WxidError && e.code === 'INTERNAL' && e.message === 'boom');
    assert.equal(wx.count('Me'), 1);

    const noRetry = createClient({ endpoint, wx, retry: false });
    wx.failRequests = 1;
    await assert.rejects(noRetry.me(), (e: unknown) => isWxidError(e, 'NETWORK_ERROR'));

    const c2 = createClient({ endpoint, wx: Object.assign(new FakeWx(), { failLogin: true }) });
    await assert.rejects(c2.me(), (e: unknown) => isWxidError(e, 'WX_LOGIN_FAILED'));
  });

  it('parseResponse', () => {
    assert.deepEqual(parseResponse(200, { data: { a: 1 } }), { a: 1 });
    assert.deepEqual(parseResponse(200, '{"data":{"a":1}}'), { a: 1 });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as WxidError).code;
      }
      return 'no error';
    };
    assert.equal(code(() => parseResponse(200, { errors: [{ message: 'x', extensions: { code: 'BAD_USER_INPUT' } }] })), 'BAD_USER_INPUT');
    assert.equal(
      code(() => parseResponse(200, { errors: [{ message: 'x', extensions: { code: 'INTERNAL' } }, { message: 'y', extensions: { code: 'UNAUTHENTICATED' } }] })),
      'UNAUTHENTICATED',
    );
    assert.equal(code(() => parseResponse(401, '')), 'UNAUTHENTICATED');
    assert.equal(code(() => parseResponse(401, { errors: [{ message: 'x' }] })), 'UNAUTHENTICATED');
    assert.equal(code(() => parseResponse(502, '<html>bad gateway</html>')), 'HTTP_ERROR');
    assert.equal(code(() => parseResponse(200, 'hello')), 'BAD_RESPONSE');
    assert.equal(code(() => parseResponse(422, { errors: [{ message: 'x', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] })), 'GRAPHQL_VALIDATION_FAILED');
  });

  it('bindPhoneNumber takes the event or its detail, prefers code, and reports a refusal', async () => {
    const wx = new FakeWx();
    const c = createClient({ endpoint, wx });
    await c.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok', code: 'pc', encryptedData: 'ed', iv: 'iv' } });
    assert.deepEqual(wx.ops.at(-1), { op: 'DecryptPhoneNumberCode', skey: wx.ops.at(-1)?.skey, variables: { code: 'pc' } });
    await c.bindPhoneNumber({ errMsg: 'getPhoneNumber:ok', encryptedData: 'ed', iv: 'iv' });
    assert.deepEqual(wx.ops.at(-1)?.variables, { encryptedData: 'ed', iv: 'iv' });
    const n = wx.ops.length;
    await assert.rejects(
      c.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } }),
      (e: unknown) => isWxidError(e, 'PHONE_DENIED') && (e as Error).message.includes('user deny'),
    );
    assert.equal(wx.ops.length, n);
  });

  it('logout revokes and forgets the skey; an already revoked skey gives false', async () => {
    const wx = new FakeWx();
    const changes: Array<StoredSession | null> = [];
    const c = createClient({ endpoint, wx, onSessionChange: (s) => changes.push(s) });
    assert.equal(await c.logout(), false);
    const { skey } = await c.login();
    assert.equal(await c.logout(), true);
    assert.equal(wx.valid.has(skey), false);
    assert.equal(c.getSession(), null);
    assert.equal(wx.storage.size, 0);
    assert.deepEqual(changes.map((s) => s && s.skey), [skey, null]);

    await c.login();
    wx.valid.clear();
    assert.equal(await c.logout(), false);
    assert.equal(c.getSession(), null);
  });

  it("refresh timer: two thirds into the server's TTL, only while shown, catches up on show", async () => {
    const timers = new FakeTimers();
    const wx = new FakeWx(timers);
    wx.ttl = 7 * MINUTE; // a server with a short WXID_SESSION_TTL
    wx.skew = 3 * 3600_000; // and a phone clock three hours behind it
    const errors: unknown[] = [];
    const c = createClient({ endpoint, wx, timers, onError: (e) => errors.push(e) });
    // The refresh point, from a Date header truncated to the second.
    const near = (d: number | null) => d !== null && d <= (wx.ttl * 2) / 3 && d >= ((wx.ttl - 1000) * 2) / 3;

    c.onShow();
    assert.equal(timers.delay(), null, 'no session, no timer');
    const first = (await c.login()).skey;
    assert.ok(near(timers.delay()), `refresh due two thirds into 7 minutes, not ${timers.delay()}`);
    const lifetime = c.getSession()!.lifetimeMs;
    assert.ok(lifetime <= wx.ttl && lifetime > wx.ttl - 1000, `lifetime ${lifetime} from expiresAt and the server's Date`);

    await timers.advance(timers.delay()! - 1);
    assert.equal(c.getSession()?.skey, first);
    await timers.advance(1);
    const second = c.getSession()?.skey;
    assert.notEqual(second, first);
    assert.equal(wx.count('RefreshSession'), 1);
    assert.ok(near(timers.delay()));

    c.onHide();
    assert.equal(timers.delay(), null, 'hidden: no timer');
    await timers.advance(5 * MINUTE); // past the refresh point, not yet expired
    assert.equal(wx.count('RefreshSession'), 1);

    c.onShow(); // overdue: rotate at once
    assert.equal(timers.delay(), 0);
    await timers.advance(0);
    assert.equal(wx.count('RefreshSession'), 2);
    assert.ok(wx.live(c.getSession()!.skey));
    assert.ok(near(timers.delay()));

    c.onShow(); // repeated onShow keeps one timer
    assert.ok(near(timers.delay()));

    // A failing refresh is reported, not thrown, and retried within the skey's life.
    wx.failRequests = 1;
    await timers.advance(timers.delay()!);
    assert.equal(errors.length, 1);
    assert.ok(isWxidError(errors[0], 'NETWORK_ERROR'));
    const retryIn = timers.delay()!;
    assert.ok(retryIn >= 1000 && retryIn <= 60_000, `retry in ${retryIn}`);
    await timers.advance(retryIn);
    assert.equal(wx.count('RefreshSession'), 4);
    assert.ok(near(timers.delay()));

    // Hidden longer than the TTL: on show the dead skey is replaced by a login.
    c.onHide();
    await timers.advance(wx.ttl + MINUTE);
    c.onShow();
    await timers.advance(0);
    assert.equal(wx.loginCalls, 2);
    assert.ok(wx.live(c.getSession()!.skey));

    // Logged out: the timer stops.
    await c.logout();
    assert.equal(timers.delay(), null);
    assert.deepEqual(errors.length, 1);
  });

  it('refresh timer: a long TTL, the local clock without a Date header, a floor, and off', async () => {
    const timers = new FakeTimers();
    const wx = new FakeWx(timers);
    wx.ttl = 30 * MINUTE;
    wx.sendDate = false; // the local clock stands in (here it agrees with the server)
    const c = createClient({ endpoint, wx, timers });
    c.onShow();
    await c.login();
    assert.equal(timers.delay(), 20 * MINUTE);
    c.onHide();

    const wx2 = new FakeWx(timers);
    wx2.ttl = 900; // under a second: never refresh more often than once a second
    const c2 = createClient({ endpoint, wx: wx2, timers });
    c2.onShow();
    await c2.login();
    assert.equal(timers.delay(), 1000);
    c2.onHide();

    const wx3 = new FakeWx(timers);
    const off = createClient({ endpoint, wx: wx3, timers, autoRefresh: false });
    off.onShow();
    await off.login();
    assert.equal(timers.delay(), null);
    off.onHide();

    // A session stored by an older version (no lifetimeMs) uses expiresAt on the local clock.
    const wx4 = new FakeWx(timers);
    wx4.storage.set('wxid.session', { skey: 'old', expiresAt: new Date(timers.now() + 9 * MINUTE).toISOString(), openId: 'o', unionId: null, appId: null, refreshedAt: timers.now() });
    const c4 = createClient({ endpoint, wx: wx4, timers });
    assert.equal(c4.getSession()?.lifetimeMs, 9 * MINUTE);
    c4.onShow();
    assert.equal(timers.delay(), 6 * MINUTE);
    c4.onHide();
  });

  it('refresh of a dead skey logs in again', async () => {
    const wx = new FakeWx();
    const c = createClient({ endpoint, wx });
    await c.login();
    wx.valid.clear();
    const s = await c.refresh();
    assert.equal(wx.loginCalls, 2);
    assert.equal(c.getSession()?.skey, s.skey);
    assert.ok(wx.valid.has(s.skey));
  });

  it('launch: wx.checkSession keeps a stored session or replaces it with a fresh login', async () => {
    const wx = new FakeWx();
    const first = await createClient({ endpoint, wx }).login();
    assert.equal(wx.checkSessionCalls, 0, 'nothing stored: no check needed');

    // Next launch, WeChat's session still valid: the stored skey is used.
    const again = createClient({ endpoint, wx });
    await again.me();
    assert.equal(wx.checkSessionCalls, 1);
    assert.equal(wx.loginCalls, 1);
    assert.equal(wx.ops.at(-1)?.skey, first.skey);
    await again.me();
    assert.equal(wx.checkSessionCalls, 1, 'once per launch');

    // Next launch, WeChat's session lapsed: a fresh wx.login before anything
    // else, and the stale skey is revoked.
    wx.wechatSessionValid = false;
    const relaunch = createClient({ endpoint, wx });
    await Promise.all([relaunch.me(), relaunch.me()]);
    assert.equal(wx.checkSessionCalls, 2);
    assert.equal(wx.loginCalls, 2);
    const fresh = relaunch.getSession()!.skey;
    assert.notEqual(fresh, first.skey);
    assert.deepEqual(
      wx.ops.filter((o) => o.op === 'Me').slice(-2).map((o) => o.skey),
      [fresh, fresh],
    );
    await settle();
    assert.equal(wx.valid.has(first.skey), false, 'stale skey revoked');

    // onLaunch does the check eagerly, and logs in when nothing is stored.
    wx.wechatSessionValid = false;
    const eager = createClient({ endpoint, wx });
    await eager.onLaunch();
    assert.equal(wx.checkSessionCalls, 3);
    assert.equal(wx.loginCalls, 3);
    const empty = new FakeWx();
    const fromScratch = createClient({ endpoint, wx: empty });
    await fromScratch.onLaunch();
    assert.equal(empty.checkSessionCalls, 0);
    assert.equal(empty.loginCalls, 1);
    assert.ok(fromScratch.getSession());

    // Shown at launch with an overdue stored skey and a lapsed WeChat session:
    // one fresh login, no rotation of the skey it just got.
    const timers = new FakeTimers();
    const late = new FakeWx(timers);
    await createClient({ endpoint, wx: late, timers }).login();
    await timers.advance(25 * MINUTE);
    late.wechatSessionValid = false;
    const shown = createClient({ endpoint, wx: late, timers });
    shown.onShow();
    await timers.advance(0);
    assert.equal(late.loginCalls, 2);
    assert.equal(late.count('RefreshSession'), 0);
    assert.ok(late.live(shown.getSession()!.skey));
    const d = timers.delay()!;
    assert.ok(d <= 20 * MINUTE && d > 20 * MINUTE - 1000, `next refresh in ${d}`);
    shown.onHide();

    // A failing launch login is reported, and the stored skey goes on working.
    const errors: unknown[] = [];
    const offline = new FakeWx();
    await createClient({ endpoint, wx: offline }).login();
    offline.wechatSessionValid = false;
    offline.failLogin = true;
    const c = createClient({ endpoint, wx: offline, onError: (e) => errors.push(e) });
    await c.onLaunch();
    assert.ok(isWxidError(errors[0], 'WX_LOGIN_FAILED'));
    await c.me();
    assert.equal(offline.count('Me'), 1);
  });

  it('login retries INVALID_CODE once with a fresh code', async () => {
    const wx = new FakeWx();
    let refusals = 1;
    wx.override.Login = () =>
      refusals-- > 0 ? { statusCode: 200, data: { errors: [{ message: 'code been used', extensions: { code: 'INVALID_CODE' } }] } } : undefined;
    const c = createClient({ endpoint, wx });
    await c.login();
    assert.equal(wx.loginCalls, 2);
    assert.deepEqual(wx.ops.filter((o) => o.op === 'Login').map((o) => o.variables.code), ['code1', 'code2']);

    refusals = 5;
    await assert.rejects(c.login(), codeIs('INVALID_CODE'));
    assert.equal(wx.loginCalls, 4, 'exactly one retry');

    // Other login errors are not retried.
    wx.override.Login = () => ({ statusCode: 200, data: { errors: [{ message: 'blocked', extensions: { code: 'FORBIDDEN' } }] } });
    await assert.rejects(c.login(), codeIs('FORBIDDEN'));
    assert.equal(wx.loginCalls, 5);
  });

  it('queries that fail on the way are sent again with bounded backoff; mutations are not', async () => {
    const timers = new FakeTimers();
    const wx = new FakeWx(timers);
    const c = createClient({ endpoint, wx, timers });
    await c.login();

    wx.failRequests = 2;
    const me = c.me();
    await timers.advance(500); // first wait: 250..500 ms
    assert.equal(wx.count('Me'), 2);
    await timers.advance(1000); // second: 500..1000 ms
    await me;
    assert.equal(wx.count('Me'), 3);

    // Bounded: 1 + 3 attempts, then the error.
    wx.failRequests = -1;
    const doomed = assert.rejects(c.me(), codeIs('NETWORK_ERROR'));
    await timers.advance(500 + 1000 + 2000);
    await doomed;
    assert.equal(wx.count('Me'), 3 + 4);

    // A mutation is sent once: it may have been applied.
    const rot = assert.rejects(c.refresh(), codeIs('NETWORK_ERROR'));
    const phone = assert.rejects(c.request(DecryptPhoneNumberCodeDocument, { code: 'pc' }), codeIs('NETWORK_ERROR'));
    await timers.advance(10_000);
    await rot;
    await phone;
    assert.equal(wx.count('RefreshSession'), 1);
    assert.equal(wx.count('DecryptPhoneNumberCode'), 1);
    wx.failRequests = 0;

    // A gateway's 503 and wxid's UNAVAILABLE are retried (after retryAfter); a 500 and a long retryAfter are not.
    let answers: Answer[] = [];
    wx.override.Me = () => answers.shift();
    answers = [{ statusCode: 503, data: 'busy' }];
    let p = c.me();
    await timers.advance(500);
    await p;
    answers = [{ statusCode: 200, data: { errors: [{ message: 'db down', extensions: { code: 'UNAVAILABLE', retryAfter: 3 } }] } }];
    const before = wx.count('Me');
    p = c.me();
    await timers.advance(2999);
    assert.equal(wx.count('Me'), before + 1, 'waits retryAfter');
    await timers.advance(1);
    await p;
    assert.equal(wx.count('Me'), before + 2);
    answers = [{ statusCode: 500, data: 'oops' }];
    await assert.rejects(c.me(), codeIs('HTTP_ERROR'));
    answers = [{ statusCode: 200, data: { errors: [{ message: 'db down', extensions: { code: 'UNAVAILABLE', retryAfter: 60 } }] } }];
    await assert.rejects(c.me(), (e: unknown) => isWxidError(e, 'UNAVAILABLE') && (e as WxidError).retryAfter === 60);
    assert.equal(wx.count('Me'), before + 4);
  });

  describe('bindPhoneNumber, old form (encryptedData + iv)', () => {
    const event = { detail: { errMsg: 'getPhoneNumber:ok', encryptedData: 'ed', iv: 'iv' } };

    it('decrypts with the live session and never calls wx.login', async () => {
      const wx = new FakeWx();
      const c = createClient({ endpoint, wx });
      await c.login();
      const r = await c.bindPhoneNumber(event);
      assert.equal(r.phoneNumber, '+8613800138000');
      assert.equal(wx.loginCalls, 1);
    });

    it('a lapsed skey is PHONE_SESSION_EXPIRED, with no wx.login and no resend', async () => {
      const wx = new FakeWx();
      const c = createClient({ endpoint, wx });
      await c.login();
      wx.valid.clear();
      await assert.rejects(c.bindPhoneNumber(event), (e: unknown) => {
        assert.ok(isWxidError(e, 'PHONE_SESSION_EXPIRED'));
        assert.match((e as Error).message, /log in.*tap again/);
        assert.ok(isWxidError((e as WxidError).original, 'UNAUTHENTICATED'));
        return true;
      });
      assert.equal(wx.loginCalls, 1);
      assert.equal(wx.count('DecryptPhoneNumberEncrypted'), 1);
      assert.equal(c.getSession(), null, 'the dead skey is forgotten');

      // Never logged in: nothing to decrypt with, and no request at all.
      const n = wx.ops.length;
      await assert.rejects(c.bindPhoneNumber(event), codeIs('PHONE_SESSION_EXPIRED'));
      assert.equal(wx.ops.length, n);
      assert.equal(wx.loginCalls, 1);
    });

    it('an skey near its end is rotated first (no wx.login)', async () => {
      const timers = new FakeTimers();
      const wx = new FakeWx(timers);
      const c = createClient({ endpoint, wx, timers });
      await c.login();
      await timers.advance(25 * MINUTE); // hidden app: no timer ran
      await c.bindPhoneNumber(event);
      assert.deepEqual(
        wx.ops.slice(-2).map((o) => o.op),
        ['RefreshSession', 'DecryptPhoneNumberEncrypted'],
      );
      assert.equal(wx.ops.at(-1)?.skey, c.getSession()?.skey);
      assert.equal(wx.loginCalls, 1);

      // Expired before the tap reached wxid: the rotation is refused too.
      await timers.advance(31 * MINUTE);
      await assert.rejects(c.bindPhoneNumber(event), codeIs('PHONE_SESSION_EXPIRED'));
      assert.equal(wx.loginCalls, 1);
    });

    it('DECRYPT_FAILED after a wx.login that overlapped the tap is PHONE_SESSION_EXPIRED; otherwise it stays', async () => {
      const wx = new FakeWx();
      const c = createClient({ endpoint, wx });
      await c.login();
      wx.override.DecryptPhoneNumberEncrypted = () => ({ statusCode: 200, data: { errors: [{ message: 'cannot decrypt', extensions: { code: 'DECRYPT_FAILED' } }] } });
      await assert.rejects(c.bindPhoneNumber(event), codeIs('DECRYPT_FAILED'));
      const login = c.login(); // e.g. another page logging in at the same moment
      await assert.rejects(c.bindPhoneNumber(event), (e: unknown) => isWxidError(e, 'PHONE_SESSION_EXPIRED') && /changed after the tap/.test((e as Error).message));
      await login;
      assert.equal(wx.loginCalls, 2, 'bindPhoneNumber itself called no wx.login');
    });

    it('the new form (code) may log in again: it does not depend on the session_key', async () => {
      const wx = new FakeWx();
      const c = createClient({ endpoint, wx });
      await c.login();
      wx.valid.clear();
      const r = await c.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok', code: 'pc' } });
      assert.equal(r.purePhoneNumber, '13800138000');
      assert.equal(wx.loginCalls, 2);
    });
  });

  it('session-ending operations never log in and forget the skey', async () => {
    const wx = new FakeWx();
    const c = createClient({ endpoint, wx });
    await assert.rejects(c.request(LogoutDocument), codeIs('UNAUTHENTICATED'));
    assert.equal(wx.loginCalls, 0);
    assert.equal(wx.ops.length, 0);
    await c.login();
    wx.valid.clear();
    await assert.rejects(c.request(LogoutDocument), codeIs('UNAUTHENTICATED'));
    assert.equal(wx.loginCalls, 1);
    assert.equal(c.getSession(), null);
  });

  it('works with Taro: promise-returning APIs, with or without callbacks', async () => {
    for (const callbacks of [true, false]) {
      const timers = new FakeTimers();
      const inner = new FakeWx(timers);
      const taro = taroShaped(inner, callbacks);
      const c = createClient({ endpoint, wx: taro, timers });
      const me = await c.me();
      assert.equal(me.id, '1');
      assert.equal(inner.loginCalls, 1);
      assert.ok(c.getSession()!.lifetimeMs > 29 * MINUTE, 'Date header read from Taro');
      await c.refresh();
      await c.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok', encryptedData: 'ed', iv: 'iv' } });

      // Failures reject Taro's promise: the client handles it (an unhandled
      // rejection would fail this test) and retries the query.
      inner.failRequests = 1;
      const p = c.me();
      await timers.advance(500);
      await p;
      inner.failLogin = true;
      await assert.rejects(c.login(), codeIs('WX_LOGIN_FAILED'));

      // The launch check through Taro.checkSession.
      inner.failLogin = false;
      inner.wechatSessionValid = false;
      const relaunch = createClient({ endpoint, wx: taro, timers });
      await relaunch.me();
      assert.equal(inner.checkSessionCalls, 1);
      assert.equal(inner.loginCalls, 3);
      await logout(relaunch);
    }
  });
});

async function logout(c: ReturnType<typeof createClient>): Promise<void> {
  assert.equal(await c.logout(), true);
  assert.equal(c.getSession(), null);
}

/**
 * A Taro-shaped API over a FakeWx: like Taro's own, every call returns a
 * promise (RequestTask is a Promise) that rejects on failure; with
 * `callbacks` it also calls success/fail, as Taro does on mini-programs.
 */
function taroShaped(inner: FakeWx, callbacks: boolean): TaroLike {
  const promised = <T>(run: (o: { success(r: T): void; fail(e: { errMsg: string }) : void }) => void, o: { success?: (r: T) => void; fail?: (e: { errMsg: string }) => void }) =>
    new Promise<T>((resolve, reject) =>
      run({
        success: (r) => {
          if (callbacks) o.success?.(r);
          resolve(r);
        },
        fail: (e) => {
          if (callbacks) o.fail?.(e);
          reject(e);
        },
      }),
    );
  return {
    request: (o) =>
      Object.assign(promised<TaroRequestResult>(
        (cb) =>
          inner.request({
            url: o.url,
            method: 'POST',
            data: o.data as Record<string, unknown>,
            header: o.header as Record<string, string>,
            success: (r) => cb.success({ data: r.data, statusCode: r.statusCode, header: r.header ?? {}, errMsg: 'request:ok' }),
            fail: cb.fail,
          }),
        o,
      ), { abort: () => undefined }),
    login: (o = {}) => promised<{ code: string; errMsg: string }>((cb) => inner.login({ success: cb.success, fail: cb.fail }), o),
    checkSession: (o = {}) => promised<{ errMsg: string }>((cb) => inner.checkSession({ success: cb.success, fail: cb.fail }), o),
    getStorageSync: <T>(key: string) => inner.getStorageSync(key) as T,
    setStorageSync: (key, data) => inner.setStorageSync(key, data),
    removeStorageSync: (key) => inner.removeStorageSync(key),
  };
}
