package accesstoken_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/wechat"
	"github.com/wxid/wxid/wechat/accesstoken"
	"github.com/wxid/wxid/wechat/wechattest"
)

const (
	appID  = "wx1111111111111111"
	appID2 = "wx2222222222222222"
	secret = "0123456789abcdef0123456789abcdef"
)

var (
	app  = wechat.App{AppID: appID, Secret: secret}
	app2 = wechat.App{AppID: appID2, Secret: secret}
)

// fetcher counts the token fetches of all managers of a test by mode.
type fetcher struct {
	client         *wechat.Client
	normal, forced atomic.Int64
}

func (f *fetcher) StableToken(ctx context.Context, a wechat.App, force bool) (wechat.Token, error) {
	if force {
		f.forced.Add(1)
	} else {
		f.normal.Add(1)
	}
	return f.client.StableToken(ctx, a, force)
}

type fixture struct {
	wx      *wechattest.Server
	clock   *clock.Fake
	client  *wechat.Client
	fetcher *fetcher
	shared  cache.Cache // the "memcached" of the cluster
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	wx := wechattest.New(wechattest.WithClock(clk.Now))
	wx.AddApp(appID, secret, "")
	wx.AddApp(appID2, secret, "")
	srv := httptest.NewServer(wx.Handler())
	t.Cleanup(srv.Close)
	client := wechat.NewClient(wechat.Options{BaseURL: srv.URL})
	return &fixture{wx: wx, clock: clk, client: client, fetcher: &fetcher{client: client}, shared: cache.NewMemory(0)}
}

// manager is one wxid instance of the cluster.
func (f *fixture) manager(o accesstoken.Options) *accesstoken.Manager {
	return f.managerOn(f.shared, o)
}

func (f *fixture) managerOn(c cache.Cache, o accesstoken.Options) *accesstoken.Manager {
	o.Now = f.clock.Now
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	return accesstoken.New(c, f.fetcher, o)
}

// works reports whether the stand-in accepts tok.
func (f *fixture) works(t testing.TB, tok string) bool {
	t.Helper()
	_, err := f.client.GetUserPhoneNumber(context.Background(), tok, "no-such-code")
	require.Error(t, err)
	return !errors.Is(err, wechat.ErrInvalidToken) // 40029 for the code: the token passed
}

// phone is the API call of the tests: resolve a phone code.
func (f *fixture) phone(m *accesstoken.Manager, code string) (wechat.PhoneInfo, error) {
	var info wechat.PhoneInfo
	err := m.Do(context.Background(), app, func(ctx context.Context, tok string) error {
		var err error
		info, err = f.client.GetUserPhoneNumber(ctx, tok, code)
		return err
	})
	return info, err
}

// parallel runs n calls of fn at once and waits for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func TestTokenIsCachedAndShared(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.manager(accesstoken.Options{})
	tok, err := m.Token(ctx, app)
	require.NoError(t, err)
	require.True(t, f.works(t, tok))
	again, err := m.Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, tok, again)

	// Another instance reads it from the shared cache.
	other, err := f.manager(accesstoken.Options{}).Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, tok, other)

	// Apps have their own tokens.
	tok2, err := m.Token(ctx, app2)
	require.NoError(t, err)
	require.NotEqual(t, tok, tok2)
	require.EqualValues(t, 2, f.fetcher.normal.Load())
	require.Equal(t, 2, f.wx.Count(wechattest.APIStableToken))
}

func TestConcurrentColdStartFetchesOnce(t *testing.T) {
	f := newFixture(t)
	managers := []*accesstoken.Manager{
		f.manager(accesstoken.Options{}), f.manager(accesstoken.Options{}), f.manager(accesstoken.Options{}),
	}
	var tokens sync.Map
	parallel(300, func(i int) {
		tok, err := managers[i%len(managers)].Token(context.Background(), app)
		require.NoError(t, err)
		tokens.Store(tok, true)
	})
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken), "one fetch for the cluster")
	n := 0
	tokens.Range(func(any, any) bool { n++; return true })
	require.Equal(t, 1, n)
}

func TestRefreshAheadOfExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	managers := []*accesstoken.Manager{
		f.manager(accesstoken.Options{}), f.manager(accesstoken.Options{}), f.manager(accesstoken.Options{}),
	}
	first, err := managers[0].Token(ctx, app)
	require.NoError(t, err)

	// Not yet due: nobody fetches, whatever the in-process TTL.
	f.clock.Advance(time.Hour)
	parallel(60, func(i int) {
		tok, err := managers[i%3].Token(ctx, app)
		require.NoError(t, err)
		require.Equal(t, first, tok)
	})
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken))

	// Four minutes before expiry: one instance refreshes; every caller gets
	// a working token, the old or the new one.
	f.clock.Advance(56 * time.Minute)
	var tokens sync.Map
	parallel(90, func(i int) {
		tok, err := managers[i%3].Token(ctx, app)
		require.NoError(t, err)
		tokens.Store(tok, true)
	})
	require.Equal(t, 2, f.wx.Count(wechattest.APIStableToken), "one refresh for the cluster")
	tokens.Range(func(k, _ any) bool {
		require.True(t, f.works(t, k.(string)))
		return true
	})

	// Once the current token expires, everyone has the new one.
	f.clock.Advance(4 * time.Minute)
	var second string
	for _, m := range managers {
		tok, err := m.Token(ctx, app)
		require.NoError(t, err)
		require.NotEqual(t, first, tok)
		if second == "" {
			second = tok
		}
		require.Equal(t, second, tok)
		require.True(t, f.works(t, tok))
	}
	require.Equal(t, 2, f.wx.Count(wechattest.APIStableToken))
}

func TestExpiredUpstreamRefreshesOnceForTheCluster(t *testing.T) {
	f := newFixture(t)
	managers := []*accesstoken.Manager{
		f.manager(accesstoken.Options{}), f.manager(accesstoken.Options{}), f.manager(accesstoken.Options{}),
	}
	for _, m := range managers {
		_, err := m.Token(context.Background(), app)
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken))

	f.wx.ExpireTokens() // every instance's token now answers 42001
	codes := make([]string, 90)
	for i := range codes {
		codes[i] = f.wx.PhoneCode(appID, "alice", "+8613800138000", "")
	}
	parallel(len(codes), func(i int) {
		info, err := f.phone(managers[i%3], codes[i])
		require.NoError(t, err)
		require.Equal(t, "13800138000", info.PurePhoneNumber)
	})
	require.Equal(t, 2, f.wx.Count(wechattest.APIStableToken), "one refresh, not one per instance or call")
	require.Zero(t, f.fetcher.forced.Load(), "the normal answer was a new token: no force_refresh")
	calls := f.wx.Count(wechattest.APIGetUserPhoneNumber)
	require.True(t, calls > 90 && calls <= 2*90, "each rejected call retried once: %d calls", calls)
}

func TestForceRefreshOnlyWhenWeChatRepeatsTheRejectedToken(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	a := f.manager(accesstoken.Options{Registerer: reg})
	b := f.manager(accesstoken.Options{Registerer: reg})
	for _, m := range []*accesstoken.Manager{a, b} {
		_, err := m.Token(context.Background(), app)
		require.NoError(t, err)
	}
	// WeChat rejects the current token, which stable_token's normal mode
	// still hands out: only force_refresh helps, and once is enough for
	// every instance and call.
	rejected, err := a.Token(context.Background(), app)
	require.NoError(t, err)
	var calls atomic.Int64
	parallel(20, func(i int) {
		m := []*accesstoken.Manager{a, b}[i%2]
		err := m.Do(context.Background(), app, func(ctx context.Context, tok string) error {
			calls.Add(1)
			if tok == rejected {
				return &wechat.Error{API: "getuserphonenumber", Code: 40001, Msg: "invalid credential"}
			}
			require.True(t, f.works(t, tok))
			return nil
		})
		require.NoError(t, err)
	})
	require.LessOrEqual(t, calls.Load(), int64(40), "at most one retry per call")
	require.EqualValues(t, 1, f.fetcher.forced.Load())
	require.EqualValues(t, 2, f.fetcher.normal.Load(), "the first fetch and the one under the lock")
	require.Equal(t, 2.0, metric(t, reg, "wxid_access_token_fetches_total", map[string]string{"mode": "normal", "result": "ok"}))
	require.Equal(t, 1.0, metric(t, reg, "wxid_access_token_fetches_total", map[string]string{"mode": "force", "result": "ok"}))
	require.Equal(t, 1.0, metric(t, reg, "wxid_access_token_refreshes_total", map[string]string{"reason": "rejected", "outcome": "fetched"}))
	// The other instance waits for that token or finds it shared. A call
	// of either instance that read the rejected token before the refresh
	// ended may start one more refresh of its own; it must find the new
	// token (local or shared) and fetch nothing.
	for _, outcome := range []string{"fallback", "unshared", "error"} {
		require.Zero(t, metric(t, reg, "wxid_access_token_refreshes_total", map[string]string{"reason": "rejected", "outcome": outcome}), outcome)
	}
	require.GreaterOrEqual(t, metric(t, reg, "wxid_access_token_refreshes_total", map[string]string{"reason": "rejected", "outcome": "waited"})+
		metric(t, reg, "wxid_access_token_refreshes_total", map[string]string{"reason": "rejected", "outcome": "shared"}), 1.0)
}

func TestRejectedTwiceDoesNotLoop(t *testing.T) {
	f := newFixture(t)
	m := f.manager(accesstoken.Options{})
	f.wx.Fail(wechattest.APIGetUserPhoneNumber, wechattest.Fault{Errcode: 42001, Errmsg: "access_token expired", Times: 10})
	_, err := f.phone(m, f.wx.PhoneCode(appID, "alice", "+8613800138000", ""))
	require.ErrorIs(t, err, wechat.ErrInvalidToken)
	require.Equal(t, 2, f.wx.Count(wechattest.APIGetUserPhoneNumber), "one call, one retry")
	require.LessOrEqual(t, f.wx.Count(wechattest.APIStableToken), 3)
}

func TestOtherErrorsAreNotRetried(t *testing.T) {
	f := newFixture(t)
	m := f.manager(accesstoken.Options{})
	_, err := f.phone(m, "bogus")
	require.ErrorIs(t, err, wechat.ErrInvalidCode)
	require.Equal(t, 1, f.wx.Count(wechattest.APIGetUserPhoneNumber))
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken))
}

func TestUsesTokenAnotherInstanceAlreadyReplaced(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.manager(accesstoken.Options{})
	b := f.manager(accesstoken.Options{})
	old, err := a.Token(ctx, app)
	require.NoError(t, err)
	_, err = b.Token(ctx, app)
	require.NoError(t, err)

	fresh, err := a.Refresh(ctx, app, old)
	require.NoError(t, err)
	require.NotEqual(t, old, fresh)
	fetches := f.wx.Count(wechattest.APIStableToken)

	// b's own rejection of the old token finds a's: no fetch, no force.
	got, err := b.Refresh(ctx, app, old)
	require.NoError(t, err)
	require.Equal(t, fresh, got)
	require.Equal(t, fetches, f.wx.Count(wechattest.APIStableToken))
	require.EqualValues(t, 1, f.fetcher.forced.Load())
}

func TestLockHeldByDeadInstance(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// An instance took the lock and died before storing a token.
	require.NoError(t, f.shared.Add(ctx, accesstoken.DefaultLockPrefix+appID, []byte("dead"), time.Minute))
	m := f.manager(accesstoken.Options{WaitTimeout: 100 * time.Millisecond})
	start := time.Now()
	tok, err := m.Token(ctx, app)
	require.NoError(t, err)
	require.True(t, f.works(t, tok))
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "waited for the holder first")
	require.Less(t, time.Since(start), 2*time.Second, "bounded wait")

	// The fallback token was shared: the next instance does not wait.
	start = time.Now()
	tok2, err := f.manager(accesstoken.Options{WaitTimeout: time.Minute}).Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, tok, tok2)
	require.Less(t, time.Since(start), time.Second)
}

func TestCacheLosesToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.manager(accesstoken.Options{LocalTTL: time.Second})
	tok, err := m.Token(ctx, app)
	require.NoError(t, err)
	require.NoError(t, f.shared.Delete(ctx, accesstoken.DefaultKeyPrefix+appID)) // memcached restarted
	f.clock.Advance(2 * time.Second)
	again, err := m.Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, tok, again)
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken), "the valid in-process token is put back, not refetched")
	other, err := f.manager(accesstoken.Options{}).Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, tok, other)
}

// brokenCache fails every operation, like an unreachable memcached.
type brokenCache struct{}

var errDown = errors.New("memcached: connection refused")

func (brokenCache) Get(context.Context, string) ([]byte, error)              { return nil, errDown }
func (brokenCache) Set(context.Context, string, []byte, time.Duration) error { return errDown }
func (brokenCache) Add(context.Context, string, []byte, time.Duration) error { return errDown }
func (brokenCache) Delete(context.Context, string) error                     { return errDown }
func (brokenCache) Ping(context.Context) error                               { return errDown }

var _ cache.Cache = brokenCache{}

func TestWorksWithoutReachableCache(t *testing.T) {
	f := newFixture(t)
	m := f.managerOn(brokenCache{}, accesstoken.Options{})
	parallel(50, func(int) {
		_, err := m.Token(context.Background(), app)
		require.NoError(t, err)
	})
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken), "in-process flight and copy")
	f.wx.ExpireTokens()
	info, err := f.phone(m, f.wx.PhoneCode(appID, "alice", "+8613800138000", ""))
	require.NoError(t, err)
	require.Equal(t, "+8613800138000", info.PhoneNumber)
}

func TestFetchErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.manager(accesstoken.Options{})
	f.wx.Fail(wechattest.APIStableToken, wechattest.Fault{Errcode: -1, Errmsg: "system error"})
	_, err := m.Token(ctx, app)
	require.ErrorIs(t, err, wechat.ErrUnavailable)
	tok, err := m.Token(ctx, app)
	require.NoError(t, err, "a failure is not cached")

	_, err = m.Token(ctx, wechat.App{AppID: appID2, Secret: "wrong"})
	require.Error(t, err)
	require.ErrorIs(t, err, wechat.ErrBadCredentials)
	require.NotContains(t, err.Error(), "wrong")

	// A failed refresh ahead of expiry keeps the current token.
	f.clock.Advance(wechattest.TokenTTL - 4*time.Minute)
	f.wx.Fail(wechattest.APIStableToken, wechattest.Fault{HTTPStatus: 502})
	again, err := m.Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, tok, again)
	n := f.wx.Count(wechattest.APIStableToken)
	_, err = m.Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, n, f.wx.Count(wechattest.APIStableToken), "no retry before RetryAfter")
	f.clock.Advance(accesstoken.DefaultRetryAfter)
	renewed, err := m.Token(ctx, app)
	require.NoError(t, err)
	require.NotEqual(t, tok, renewed)
}

func TestClusterOverMemcached(t *testing.T) {
	mc := testenv.StartMemcached(t)
	f := newFixture(t)
	var managers []*accesstoken.Manager
	for range 3 {
		c, err := cache.NewMemcached(cache.MemcachedOptions{Servers: []string{mc.Addr}, MaxIdleConns: 64})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		managers = append(managers, f.managerOn(c, accesstoken.Options{}))
	}
	parallel(150, func(i int) {
		_, err := managers[i%3].Token(context.Background(), app)
		require.NoError(t, err)
	})
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken))

	f.wx.ExpireTokens()
	codes := make([]string, 60)
	for i := range codes {
		codes[i] = f.wx.PhoneCode(appID, "alice", "+8613800138000", "")
	}
	parallel(len(codes), func(i int) {
		_, err := f.phone(managers[i%3], codes[i])
		require.NoError(t, err)
	})
	require.Equal(t, 2, f.wx.Count(wechattest.APIStableToken))
	require.Zero(t, f.fetcher.forced.Load())
}

// metric is the value of the counter name{labels} in reg, 0 if absent.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0 // never incremented
}

func BenchmarkToken(b *testing.B) {
	f := newFixture(b)
	m := f.manager(accesstoken.Options{})
	ctx := context.Background()
	_, err := m.Token(ctx, app)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Token(ctx, app); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSealedInTheCache: with a Sealer the shared cache never holds the
// token in the clear, instances with the same key share it, and a value
// planted by someone without the key is ignored.
func TestSealedInTheCache(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seal, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	a := f.manager(accesstoken.Options{Sealer: seal})
	tok, err := a.Token(ctx, app)
	require.NoError(t, err)
	raw, err := f.shared.Get(ctx, "wxid:at:"+appID)
	require.NoError(t, err)
	require.NotContains(t, string(raw), tok, "the token is not stored in the clear")

	b := f.manager(accesstoken.Options{Sealer: seal})
	shared, err := b.Token(ctx, app)
	require.NoError(t, err)
	require.Equal(t, tok, shared)
	require.Equal(t, 1, f.wx.Count(wechattest.APIStableToken), "the second instance read the first one's token")

	// A plain entry planted in the cache is not believed.
	require.NoError(t, f.shared.Set(ctx, "wxid:at:"+appID2, []byte(`{"t":"planted","e":"2999-01-01T00:00:00Z","r":"2999-01-01T00:00:00Z"}`), 0))
	c := f.manager(accesstoken.Options{Sealer: seal})
	got, err := c.Token(ctx, wechat.App{AppID: appID2, Secret: secret})
	require.NoError(t, err)
	require.NotEqual(t, "planted", got)
	require.True(t, f.works(t, got))
}
