// Package accesstoken keeps one WeChat access token per app for a whole
// cluster of wxid instances.
//
// WeChat's server APIs (getuserphonenumber, checksession, ...) need an
// access_token. Tokens live two hours, and a cluster must share one: servers
// fetching their own knock each other out (docs/wechat.md). Manager therefore
// keeps the token in the shared cache (memcached, or the in-process cache
// when none is configured) under KeyPrefix+appid, with its expiry inside the
// value, and in process for LocalTTL so the hot path costs no round trip.
//
// Tokens come from cgi-bin/stable_token in normal mode, which hands every
// caller the current token and invalidates nothing, so a fetch is always
// safe. Refreshes are still coordinated so that the cluster makes one fetch,
// not one per instance:
//
//   - Within an instance, concurrent refreshes of one app share one flight.
//   - Across instances, the refresher holds a lock in the cache
//     (LockPrefix+appid, added atomically with a TTL). An instance that
//     finds the lock taken keeps using the current token when it is still
//     valid, and otherwise polls the cache for the new one for at most
//     WaitTimeout, fetching itself only as a last resort.
//   - A token is refreshed ahead of its expiry (RefreshBefore); the request
//     that notices does it while the others keep using the current token.
//
// When an API call answers 40001, 40014 or 42001 (wechat.ErrInvalidToken),
// Do refreshes once, through the same shared path, and retries the call
// once. The refresh first looks for a token other than the rejected one in
// process and in the cache (another instance may have replaced it already);
// only the lock holder fetches, and it asks for force_refresh only when the
// normal answer is the rejected token itself. Nothing loops.
package accesstoken

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxid/wxid/cache"
	wxmetrics "github.com/wxid/wxid/internal/metrics"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/wechat"
)

// Fetcher fetches stable access tokens; *wechat.Client implements it.
type Fetcher interface {
	StableToken(ctx context.Context, app wechat.App, forceRefresh bool) (wechat.Token, error)
}

// Defaults of Options.
const (
	DefaultKeyPrefix     = "wxid:at:"
	DefaultLockPrefix    = "wxid:at:lock:"
	DefaultRefreshBefore = 5 * time.Minute
	DefaultRetryAfter    = 30 * time.Second
	DefaultLocalTTL      = 30 * time.Second
	DefaultLockTTL       = 10 * time.Second
	DefaultWaitTimeout   = 2 * time.Second
	DefaultPollInterval  = 25 * time.Millisecond
)

// Options configure a Manager; zero fields take the defaults above.
type Options struct {
	// KeyPrefix + appid is the cache key of an app's token.
	KeyPrefix string
	// LockPrefix + appid is the cache key of an app's refresh lock.
	LockPrefix string
	// RefreshBefore is how long before its expiry a token is refreshed.
	// WeChat's stable_token hands out a new token 5 minutes before expiry.
	RefreshBefore time.Duration
	// RetryAfter spaces refresh attempts when a fetch failed or returned a
	// token that is already due (WeChat's clock is behind ours).
	RetryAfter time.Duration
	// LocalTTL is how long an instance uses its in-process copy before
	// reading the shared cache again (to pick up a token another instance
	// force-refreshed).
	LocalTTL time.Duration
	// LockTTL is the lease of the refresh lock; it also bounds one refresh.
	LockTTL time.Duration
	// WaitTimeout bounds the wait for another instance's refresh.
	WaitTimeout time.Duration
	// PollInterval is how often a waiting instance reads the cache.
	PollInterval time.Duration
	// Now is the clock of token lifetimes; nil means time.Now. Waiting and
	// polling use real time.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives wxid_access_token_fetches_total{mode,result} and
	// wxid_access_token_refreshes_total{reason,outcome}; nil registers
	// nothing.
	Registerer prometheus.Registerer
	// Sealer, when set, encrypts tokens in the shared cache (AES-256-GCM,
	// bound to the appid), so that whoever can read memcached cannot call
	// WeChat as the app. A value that does not open counts as absent.
	Sealer *sealer.Sealer
}

// Manager hands out access tokens shared by the cluster. It is safe for
// concurrent use.
type Manager struct {
	cache   cache.Cache
	fetcher Fetcher
	o       Options
	log     *slog.Logger
	id      []byte // this instance's lock value
	metrics *metrics

	mu    sync.RWMutex
	local map[string]local // by appid

	flightsMu sync.Mutex
	flights   map[string]*flight // by appid + "\x00" + rejected token
}

// local is an instance's copy of an app's token.
type local struct {
	e          entry
	checkUntil time.Time // read the shared cache again from then on
}

// flight is one refresh that concurrent callers of an instance share.
type flight struct {
	done  chan struct{}
	token string
	err   error
}

// New returns a Manager storing tokens in c and fetching them with f.
func New(c cache.Cache, f Fetcher, o Options) *Manager {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.RefreshBefore, DefaultRefreshBefore)
	def(&o.RetryAfter, DefaultRetryAfter)
	def(&o.LocalTTL, DefaultLocalTTL)
	def(&o.LockTTL, DefaultLockTTL)
	def(&o.WaitTimeout, DefaultWaitTimeout)
	def(&o.PollInterval, DefaultPollInterval)
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.LockPrefix == "" {
		o.LockPrefix = DefaultLockPrefix
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &Manager{
		cache: c, fetcher: f, o: o, log: log,
		id:      []byte(hex.EncodeToString(id)),
		metrics: newMetrics(o.Registerer),
		local:   map[string]local{},
		flights: map[string]*flight{},
	}
}

// Token returns a valid access token for app.
func (m *Manager) Token(ctx context.Context, app wechat.App) (string, error) {
	now := m.o.Now()
	m.mu.RLock()
	l, ok := m.local[app.AppID]
	m.mu.RUnlock()
	if ok && now.Before(l.checkUntil) {
		return l.e.Token, nil
	}
	return m.slow(ctx, app, now, l.e)
}

// Do calls call with app's access token. When WeChat rejects the token
// (wechat.ErrInvalidToken: 40001, 40014, 42001), it refreshes the token
// once, shared with the cluster, and calls call once more with the new one;
// the second answer is final.
func (m *Manager) Do(ctx context.Context, app wechat.App, call func(ctx context.Context, accessToken string) error) error {
	tok, err := m.Token(ctx, app)
	if err != nil {
		return err
	}
	err = call(ctx, tok)
	if !errors.Is(err, wechat.ErrInvalidToken) {
		return err
	}
	m.log.DebugContext(ctx, "access token rejected; refreshing once", "appid", app.AppID, "err", err)
	fresh, rerr := m.Refresh(ctx, app, tok)
	if rerr != nil {
		return fmt.Errorf("refreshing a rejected access token: %w", rerr)
	}
	return call(ctx, fresh)
}

// Refresh returns a token other than rejected, which WeChat refused: one
// that this instance or another already got, or else a new one fetched by
// the single instance holding the refresh lock.
func (m *Manager) Refresh(ctx context.Context, app wechat.App, rejected string) (string, error) {
	m.dropLocal(app.AppID, rejected)
	return m.refresh(ctx, app, entry{}, rejected, reasonRejected)
}

// slow is Token past the in-process copy: the shared cache, then a
// refresh when the token is missing or due.
func (m *Manager) slow(ctx context.Context, app wechat.App, now time.Time, prev entry) (string, error) {
	e, err := m.readShared(ctx, app.AppID)
	switch {
	case err == nil && now.Before(e.RefreshAt):
		m.setLocal(app.AppID, e, now)
		return e.Token, nil
	case err != nil && prev.valid(now) && now.Before(prev.RefreshAt):
		// The cache lost the token (restart, eviction) or is unreachable,
		// and ours is not due: keep it, and put it back for the others.
		// Add never overwrites a token another instance stored meanwhile.
		if errors.Is(err, cache.ErrCacheMiss) {
			m.store(ctx, app.AppID, prev, now, true)
		}
		m.setLocal(app.AppID, prev, now)
		return prev.Token, nil
	}
	// Due or missing. Keep whichever valid token we know while refreshing.
	cur := prev
	if err == nil && e.valid(now) && (!cur.valid(now) || e.Expires.After(cur.Expires)) {
		cur = e
	}
	if !cur.valid(now) {
		reason := reasonMissing
		if err == nil || prev.Token != "" {
			reason = reasonExpired
		}
		return m.refresh(ctx, app, entry{}, "", reason)
	}
	tok, rerr := m.refresh(ctx, app, cur, "", reasonAhead)
	if rerr != nil {
		// The current token still works: keep it, try again later.
		m.log.WarnContext(ctx, "refreshing access token ahead of expiry failed; keeping the current one",
			"appid", app.AppID, "expires_in", cur.Expires.Sub(now).Round(time.Second), "err", rerr)
		retry := cur
		retry.RefreshAt = minTime(now.Add(m.o.RetryAfter), cur.Expires)
		m.setLocal(app.AppID, retry, now)
		return cur.Token, nil
	}
	return tok, nil
}

// refresh runs one refresh per app (and rejected token) in this instance;
// concurrent callers share it. An ahead-of-expiry caller (cur valid) that
// finds a refresh running does not wait: it uses cur.
func (m *Manager) refresh(ctx context.Context, app wechat.App, cur entry, rejected, reason string) (string, error) {
	key := app.AppID + "\x00" + rejected
	m.flightsMu.Lock()
	if f, ok := m.flights[key]; ok {
		m.flightsMu.Unlock()
		if reason == reasonAhead {
			return cur.Token, nil
		}
		select {
		case <-f.done:
			return f.token, f.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	m.flights[key] = f
	m.flightsMu.Unlock()

	// The flight serves every waiter: the leader's cancellation must not
	// fail the others. The lock's lease bounds it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.LockTTL)
	var outcome string
	f.token, outcome, f.err = m.doRefresh(fctx, app, cur, rejected)
	cancel()
	if f.err != nil {
		outcome = outcomeError
	}
	level := slog.LevelDebug
	if reason == reasonRejected || f.err != nil {
		level = slog.LevelWarn
	}
	m.log.Log(ctx, level, "access token refresh", "appid", app.AppID, "reason", reason, "outcome", outcome, "err", f.err)
	m.metrics.refreshes.WithLabelValues(reason, outcome).Inc()

	m.flightsMu.Lock()
	delete(m.flights, key)
	m.flightsMu.Unlock()
	close(f.done)
	return f.token, f.err
}

// doRefresh finds or fetches a token that is valid, not rejected and, for
// ahead-of-expiry refreshes, not yet due. It reports how it got it.
func (m *Manager) doRefresh(ctx context.Context, app wechat.App, cur entry, rejected string) (string, string, error) {
	now := m.o.Now()
	good := func(e entry) bool {
		return e.valid(now) && e.Token != rejected && (rejected != "" || now.Before(e.RefreshAt))
	}
	if rejected != "" {
		// Another flight of this instance may have replaced it already.
		m.mu.RLock()
		l, ok := m.local[app.AppID]
		m.mu.RUnlock()
		if ok && good(l.e) {
			return l.e.Token, outcomeLocal, nil
		}
	}
	e, err := m.readShared(ctx, app.AppID)
	if err == nil && good(e) {
		m.setLocal(app.AppID, e, now)
		return e.Token, outcomeShared, nil
	}
	if err != nil && !errors.Is(err, cache.ErrCacheMiss) {
		// No shared cache: every instance for itself. Normal mode is safe.
		m.log.WarnContext(ctx, "access token cache unreachable; fetching without the cluster lock", "appid", app.AppID, "err", err)
		tok, err := m.fetch(ctx, app, rejected, true)
		return tok, outcomeUnshared, err
	}

	lockKey := m.o.LockPrefix + app.AppID
	switch err := m.cache.Add(ctx, lockKey, m.id, m.o.LockTTL); {
	case err == nil:
		defer m.unlock(ctx, lockKey)
		// The previous holder may have stored a token between our read and
		// our lock.
		if e, err := m.readShared(ctx, app.AppID); err == nil && good(e) {
			m.setLocal(app.AppID, e, now)
			return e.Token, outcomeShared, nil
		}
		tok, err := m.fetch(ctx, app, rejected, true)
		return tok, outcomeFetched, err
	case errors.Is(err, cache.ErrNotStored):
		// Another instance is refreshing.
		if rejected == "" && cur.valid(now) {
			// Keep it in process for a moment rather than knocking on the
			// lock at every call until the new token arrives.
			busy := cur
			busy.RefreshAt = minTime(now.Add(busyRecheck), cur.Expires)
			m.setLocal(app.AppID, busy, now)
			return cur.Token, outcomeCurrent, nil
		}
		if tok, ok := m.await(ctx, app.AppID, good); ok {
			return tok, outcomeWaited, nil
		}
		m.log.WarnContext(ctx, "no access token from the cluster in time; fetching without the lock",
			"appid", app.AppID, "waited", m.o.WaitTimeout)
		tok, err := m.fetch(ctx, app, rejected, false)
		return tok, outcomeFallback, err
	default:
		m.log.WarnContext(ctx, "access token lock unavailable; fetching without it", "appid", app.AppID, "err", err)
		tok, err := m.fetch(ctx, app, rejected, true)
		return tok, outcomeUnshared, err
	}
}

// await polls the shared cache for a good token for at most WaitTimeout.
func (m *Manager) await(ctx context.Context, appID string, good func(entry) bool) (string, bool) {
	deadline := time.NewTimer(m.o.WaitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(m.o.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", false
		case <-deadline.C:
			return "", false
		case <-tick.C:
		}
		if e, err := m.readShared(ctx, appID); err == nil && good(e) {
			m.setLocal(appID, e, m.o.Now())
			return e.Token, true
		}
	}
}

// busyRecheck is how long an instance keeps its current, due token while
// another instance refreshes it, before looking for the new one.
const busyRecheck = time.Second

// errStillRejected: WeChat's normal answer is the token it just rejected,
// and this instance may not force a new one (another holds the lock).
var errStillRejected = fmt.Errorf("access token: wechat still hands out the rejected token: %w", wechat.ErrInvalidToken)

// fetch gets a token from WeChat in normal mode, and with force_refresh
// when that is the rejected token and mayForce, then stores it.
func (m *Manager) fetch(ctx context.Context, app wechat.App, rejected string, mayForce bool) (string, error) {
	t, err := m.fetchOnce(ctx, app, false)
	if err != nil {
		return "", err
	}
	if rejected != "" && t.AccessToken == rejected {
		if !mayForce {
			return "", errStillRejected
		}
		m.log.WarnContext(ctx, "wechat still hands out the rejected access token; forcing a new one", "appid", app.AppID)
		if t, err = m.fetchOnce(ctx, app, true); err != nil {
			return "", err
		}
	}
	now := m.o.Now()
	e := entry{Token: t.AccessToken, Expires: now.Add(t.ExpiresIn)}
	e.RefreshAt = e.Expires.Add(-m.o.RefreshBefore)
	if !e.RefreshAt.After(now) {
		// Already due: WeChat will renew it only a little later.
		e.RefreshAt = minTime(now.Add(m.o.RetryAfter), e.Expires)
	}
	m.store(ctx, app.AppID, e, now, false)
	m.setLocal(app.AppID, e, now)
	return e.Token, nil
}

// store writes e to the shared cache until it expires; with onlyIfAbsent
// it uses Add, so it never replaces what another instance stored.
func (m *Manager) store(ctx context.Context, appID string, e entry, now time.Time, onlyIfAbsent bool) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	if m.o.Sealer != nil {
		b = m.o.Sealer.Seal(b, tokenAAD(appID))
	}
	key, ttl := m.o.KeyPrefix+appID, e.Expires.Sub(now)
	if onlyIfAbsent {
		err = m.cache.Add(ctx, key, b, ttl)
	} else {
		err = m.cache.Set(ctx, key, b, ttl)
	}
	if err != nil && !errors.Is(err, cache.ErrNotStored) {
		m.log.WarnContext(ctx, "storing access token in the cache failed", "appid", appID, "err", err)
	}
}

func (m *Manager) fetchOnce(ctx context.Context, app wechat.App, force bool) (wechat.Token, error) {
	mode := "normal"
	if force {
		mode = "force"
	}
	start := time.Now()
	t, err := m.fetcher.StableToken(ctx, app, force)
	if err != nil {
		m.metrics.fetches.WithLabelValues(mode, "error").Inc()
		m.log.WarnContext(ctx, "fetching access token failed", "appid", app.AppID, "mode", mode, "err", err)
		return wechat.Token{}, fmt.Errorf("fetching access token: %w", err)
	}
	m.metrics.fetches.WithLabelValues(mode, "ok").Inc()
	m.log.InfoContext(ctx, "access token fetched", "appid", app.AppID, "mode", mode,
		"expires_in", t.ExpiresIn, "took", time.Since(start).Round(time.Millisecond))
	return t, nil
}

// unlock releases the refresh lock if this instance still holds it (its
// lease may have run out and another instance taken it).
func (m *Manager) unlock(ctx context.Context, key string) {
	if v, err := m.cache.Get(ctx, key); err == nil && string(v) == string(m.id) {
		_ = m.cache.Delete(ctx, key)
	}
}

func (m *Manager) readShared(ctx context.Context, appID string) (entry, error) {
	b, err := m.cache.Get(ctx, m.o.KeyPrefix+appID)
	if err != nil {
		return entry{}, err
	}
	if m.o.Sealer != nil {
		if b, err = m.o.Sealer.Open(b, tokenAAD(appID)); err != nil {
			return entry{}, cache.ErrCacheMiss // forged, or sealed under an unknown key
		}
	}
	var e entry
	if err := json.Unmarshal(b, &e); err != nil || e.Token == "" {
		return entry{}, cache.ErrCacheMiss // unreadable: treat as absent
	}
	return e, nil
}

// tokenAAD binds a sealed token to its app.
func tokenAAD(appID string) []byte { return []byte("access_token\x00" + appID) }

func (m *Manager) setLocal(appID string, e entry, now time.Time) {
	l := local{e: e, checkUntil: minTime(now.Add(m.o.LocalTTL), e.RefreshAt)}
	m.mu.Lock()
	// Never replace a newer token with an older one.
	if old, ok := m.local[appID]; !ok || old.e.Token == e.Token || !old.e.Expires.After(e.Expires) {
		m.local[appID] = l
	}
	m.mu.Unlock()
}

// dropLocal forgets the in-process token when it is the rejected one.
func (m *Manager) dropLocal(appID, rejected string) {
	m.mu.Lock()
	if l, ok := m.local[appID]; ok && l.e.Token == rejected {
		delete(m.local, appID)
	}
	m.mu.Unlock()
}

// entry is a token as stored in the cache: the authoritative expiry is in
// the value, since memcached rounds TTLs to seconds.
type entry struct {
	Token     string    `json:"t"`
	Expires   time.Time `json:"e"`
	RefreshAt time.Time `json:"r"`
}

func (e entry) valid(now time.Time) bool { return e.Token != "" && now.Before(e.Expires) }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Refresh reasons and outcomes, the labels of
// wxid_access_token_refreshes_total.
const (
	reasonMissing  = "missing"  // no token known
	reasonExpired  = "expired"  // the known token expired
	reasonAhead    = "ahead"    // due for refresh, still valid
	reasonRejected = "rejected" // WeChat refused it (40001, 40014, 42001)

	outcomeLocal    = "local"    // another flight of this instance got one
	outcomeShared   = "shared"   // another instance had stored one
	outcomeFetched  = "fetched"  // fetched under the cluster lock
	outcomeCurrent  = "current"  // lock taken elsewhere; kept the current token
	outcomeWaited   = "waited"   // lock taken elsewhere; got its token
	outcomeFallback = "fallback" // lock taken elsewhere, nothing came: fetched
	outcomeUnshared = "unshared" // cache unreachable: fetched alone
	outcomeError    = "error"
)

type metrics struct {
	fetches   *prometheus.CounterVec
	refreshes *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxid_access_token_fetches_total",
			Help: "Access token fetches from WeChat (cgi-bin/stable_token) by mode (normal, force) and result (ok, error).",
		}, []string{"mode", "result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxid_access_token_refreshes_total",
			Help: "Access token refreshes by reason (missing, expired, ahead, rejected) and outcome (local, shared, fetched, current, waited, fallback, unshared, error).",
		}, []string{"reason", "outcome"}),
	}
	m.fetches = wxmetrics.Register(reg, m.fetches)
	m.refreshes = wxmetrics.Register(reg, m.refreshes)
	return m
}
