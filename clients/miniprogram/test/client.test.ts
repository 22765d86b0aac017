// Unit tests of the client's logic against an in-memory fake of wx and wxid.
// The live tests (live.test.ts) run the same client against a real server.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createClient, isWxidError, parseResponse, WxidError, type StoredSession } from '../src/index';
import type { Timers, Wx, WxRequestOptions, WxLoginOptions } from '../src/wx';

type Answer = { statusCode: number; data: unknown };

/** A fake wx whose wx.request is answered by a tiny in-memory wxid. */
class FakeWx implements Wx {
  loginCalls = 0;
  ops: Array<{ op: string; skey?: string; variables: Record<string, unknown> }> = [];
  storage = new Map<string, unknown>();
  valid = new Set<string>();
  next = 0;
  /** Per operation: override the answer. */
  override: Record<string, (skey: string | undefined, vars: Record<string, unknown>) => Answer | undefined> = {};
  failRequests = false;
  failLogin = false;

  request(o: WxRequestOptions): void {
    const query = String(o.data.query);
    const op = /(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? '?';
    const auth = o.header.authorization;
    const skey = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const variables = (o.data.variables ?? {}) as Record<string, unknown>;
    this.ops.push({ op, skey, variables });
    setImmediate(() => {
      if (this.failRequests) return o.fail({ errMsg: 'request:fail timeout' });
      const a = this.override[op]?.(skey, variables) ?? this.answer(op, skey, variables);
      o.success({ statusCode: a.statusCode, data: a.data });
    });
  }

  login(o: WxLoginOptions): void {
    this.loginCalls++;
    setImmediate(() => (this.failLogin ? o.fail({ errMsg: 'login:fail' }) : o.success({ code: `code${this.loginCalls}`, errMsg: 'login:ok' })));
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

  issue(): string {
    const s = `skey${++this.next}`;
    this.valid.add(s);
    return s;
  }

  private answer(op: string, skey: string | undefined, vars: Record<string, unknown>): Answer {
    const unauth = { statusCode: 200, data: { data: null, errors: [{ message: 'log in again', extensions: { code: 'UNAUTHENTICATED' } }] } };
    const user = { id: '1', unionId: null, phoneNumber: null, purePhoneNumber: null, countryCode: null, phoneVerifiedAt: null, createdAt: '2024-01-01T00:00:00Z', lastLoginAt: null, openIds: [] };
    const ok = (data: unknown) => ({ statusCode: 200, data: { data } });
    if (op === 'Login') {
      return ok({ login: { skey: this.issue(), expiresAt: '2099-01-01T00:00:00Z', isNewUser: false, openId: 'o1', unionId: null, user } });
    }
    if (!skey || !this.valid.has(skey)) return unauth;
    switch (op) {
      case 'Me':
        return ok({ me: user });
      case 'RefreshSession':
        return ok({ refreshSession: { skey: this.issue(), expiresAt: '2099-01-01T00:00:00Z' } });
      case 'Logout':
        this.valid.delete(skey);
        return ok({ logout: true });
      case 'DecryptPhoneNumberCode':
      case 'DecryptPhoneNumberEncrypted':
        return ok({ decryptPhoneNumber: { phoneNumber: '+8613800138000', purePhoneNumber: '13800138000', countryCode: '86', user, via: vars } });
    }
    return { statusCode: 422, data: { errors: [{ message: 'unknown op', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] } };
  }

  count(op: string): number {
    return this.ops.filter((o) => o.op === op).length;
  }
}

/** Manually advanced timers. */
class FakeTimers implements Timers {
  t = 1_000_000;
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
      const due = [...this.pending.entries()].filter(([, e]) => e.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

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

    wx.failRequests = true;
    await assert.rejects(c.me(), (e: unknown) => isWxidError(e, 'NETWORK_ERROR'));
    wx.failRequests = false;

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

  it('refresh timer: runs only while shown, every interval, catches up on show', async () => {
    const wx = new FakeWx();
    const timers = new FakeTimers();
    const errors: unknown[] = [];
    const interval = 20 * 60 * 1000;
    const c = createClient({ endpoint, wx, timers, onError: (e) => errors.push(e) });

    c.onShow();
    assert.equal(timers.delay(), null, 'no session, no timer');
    const first = (await c.login()).skey;
    assert.equal(timers.delay(), interval, 'default interval is 20 minutes');

    await timers.advance(interval - 1);
    assert.equal(c.getSession()?.skey, first);
    await timers.advance(1);
    const second = c.getSession()?.skey;
    assert.notEqual(second, first);
    assert.equal(wx.count('RefreshSession'), 1);
    assert.equal(timers.delay(), interval);

    c.onHide();
    assert.equal(timers.delay(), null, 'hidden: no timer');
    await timers.advance(3 * interval);
    assert.equal(wx.count('RefreshSession'), 1);

    c.onShow(); // overdue: rotate at once
    assert.equal(timers.delay(), 0);
    await timers.advance(0);
    assert.equal(wx.count('RefreshSession'), 2);
    assert.equal(timers.delay(), interval);

    c.onShow(); // repeated onShow keeps one timer
    assert.equal(timers.delay(), interval);

    // A failing refresh is reported, not thrown, and retried after a minute.
    wx.failRequests = true;
    await timers.advance(interval);
    assert.equal(errors.length, 1);
    assert.ok(isWxidError(errors[0], 'NETWORK_ERROR'));
    assert.equal(timers.delay(), 60_000);
    wx.failRequests = false;
    await timers.advance(60_000);
    assert.equal(wx.count('RefreshSession'), 4);
    assert.equal(timers.delay(), interval);

    // Logged out: the timer stops.
    await c.logout();
    assert.equal(timers.delay(), null);
    assert.equal(wx.loginCalls, 1);
  });

  it('refresh timer can be turned off and configured', async () => {
    const wx = new FakeWx();
    const timers = new FakeTimers();
    const off = createClient({ endpoint, wx, timers, refreshIntervalMs: 0 });
    off.onShow();
    await off.login();
    assert.equal(timers.delay(), null);
    off.onHide();

    const wx2 = new FakeWx();
    const c = createClient({ endpoint, wx: wx2, timers, refreshIntervalMs: 5_000 });
    c.onShow();
    await c.login();
    assert.equal(timers.delay(), 5_000);
    c.onHide();
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
});
