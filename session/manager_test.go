package session

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/ent"
	entsession "github.com/wxid/wxid/ent/session"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/sealer"
)

const (
	testTTL    = 30 * time.Minute
	testMaxAge = 24 * time.Hour
	testGrace  = time.Minute
)

// flakyCache is a cache that can be made unreachable.
type flakyCache struct {
	cache.Cache
	down atomic.Bool
}

var errDown = errors.New("cache down")

func (f *flakyCache) Get(ctx context.Context, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Cache.Get(ctx, key)
}

func (f *flakyCache) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Cache.Set(ctx, key, v, ttl)
}

func (f *flakyCache) Add(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Cache.Add(ctx, key, v, ttl)
}

// fixture is a Manager over a fresh SQLite database and an in-process
// cache, both on one fake clock.
type fixture struct {
	m      *Manager
	db     *ent.Client
	cache  *flakyCache
	clock  *clock.Fake
	user   int
	openID int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.OpenDatabase(t, testenv.SQLite(t))
	seal, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := &flakyCache{Cache: cache.NewMemory(1000, cache.WithClock(clk.Now))}
	m := NewManager(db.Client, c, seal, Options{
		Keys: NewKeys(seal), TTL: testTTL, MaxAge: testMaxAge, Grace: testGrace,
		Now: clk.Now, Logger: slog.New(slog.DiscardHandler),
	})
	u := db.Client.User.Create().SaveX(ctx)
	oid := db.Client.OpenID.Create().SetUserID(u.ID).SetAppid("wxapp").SetOpenid("o-alice").SaveX(ctx)
	return &fixture{m: m, db: db.Client, cache: c, clock: clk, user: u.ID, openID: oid.ID}
}

func (f *fixture) issue(t *testing.T) (string, Info) {
	t.Helper()
	skey, info, err := f.m.Issue(context.Background(), f.user, f.openID, "wxapp", "o-alice", ClientMeta{IP: "192.0.2.1", UserAgent: "test"})
	require.NoError(t, err)
	return skey, info
}

// forget drops the cache entry of skey, as an eviction would.
func (f *fixture) forget(t *testing.T, skey string) {
	t.Helper()
	require.NoError(t, f.cache.Delete(context.Background(), CacheKey(Hash(skey))))
}

// entry is the raw cache entry of skey, nil on a miss.
func (f *fixture) entry(t *testing.T, skey string) []byte {
	t.Helper()
	b, err := f.cache.Cache.Get(context.Background(), CacheKey(Hash(skey)))
	if errors.Is(err, cache.ErrCacheMiss) {
		return nil
	}
	require.NoError(t, err)
	return b
}

// requireDead asserts that the cache holds a tombstone for skey.
func (f *fixture) requireDead(t *testing.T, skey string, msgAndArgs ...any) {
	t.Helper()
	key := CacheKey(Hash(skey))
	_, state := f.m.keys.openEntry(key, f.entry(t, skey))
	require.Equal(t, entryIsDead, state, msgAndArgs...)
}

// requireLiveEntry asserts that the cache holds a live entry for skey.
func (f *fixture) requireLiveEntry(t *testing.T, skey string, msgAndArgs ...any) {
	t.Helper()
	key := CacheKey(Hash(skey))
	_, state := f.m.keys.openEntry(key, f.entry(t, skey))
	require.Equal(t, entryIsLive, state, msgAndArgs...)
}

func (f *fixture) live(t *testing.T, skey string) bool {
	t.Helper()
	_, err := f.m.Resolve(context.Background(), skey)
	if errors.Is(err, ErrInvalid) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestIssueAndResolve(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	skey, info := f.issue(t)
	require.True(t, f.m.keys.Verify(skey))
	require.Equal(t, Info{ID: info.ID, UserID: f.user, OpenIDID: f.openID, AppID: "wxapp", OpenID: "o-alice",
		ExpiresAt: f.clock.Now().Add(testTTL), AbsoluteExpiresAt: f.clock.Now().Add(testMaxAge)}, info)

	got, err := f.m.Resolve(ctx, skey)
	require.NoError(t, err)
	require.Equal(t, info, got, "from the cache")

	f.forget(t, skey)
	got, err = f.m.Resolve(ctx, skey)
	require.NoError(t, err)
	require.Equal(t, info, got, "from the database, with its account")
	require.NotNil(t, f.entry(t, skey), "and cached again")

	for _, bad := range []string{"", "short", skey[:len(skey)-1] + "!", skey + "x"} {
		_, err := f.m.Resolve(ctx, bad)
		require.ErrorIs(t, err, ErrInvalid, "%q", bad)
	}
	unknown, err := f.m.keys.NewToken()
	require.NoError(t, err)
	_, err = f.m.Resolve(ctx, unknown)
	require.ErrorIs(t, err, ErrInvalid)
}

func TestIdleExpiry(t *testing.T) {
	f := newFixture(t)
	skey, _ := f.issue(t)
	f.clock.Advance(testTTL - time.Second)
	require.True(t, f.live(t, skey))
	f.clock.Advance(time.Second)
	require.False(t, f.live(t, skey), "the cache entry is checked against the skey's expiry")
	f.forget(t, skey)
	require.False(t, f.live(t, skey), "and so is the row")
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	t.Run("new skey, old one lives out the grace window", func(t *testing.T) {
		f := newFixture(t)
		old, oldInfo := f.issue(t)
		f.clock.Advance(10 * time.Minute)
		next, info, err := f.m.Refresh(ctx, old, ClientMeta{})
		require.NoError(t, err)
		require.NotEqual(t, old, next)
		require.Equal(t, f.clock.Now().Add(testTTL), info.ExpiresAt)
		require.Equal(t, oldInfo.AbsoluteExpiresAt, info.AbsoluteExpiresAt, "same login")
		require.Equal(t, "o-alice", info.OpenID)

		rows := f.db.Session.Query().AllX(ctx)
		require.Len(t, rows, 2)
		require.Equal(t, rows[0].Family, rows[1].Family)

		f.clock.Advance(testGrace - time.Second)
		require.True(t, f.live(t, old), "within the grace window")
		f.forget(t, old)
		require.True(t, f.live(t, old), "within the grace window, from the database")
		f.clock.Advance(time.Second)
		require.False(t, f.live(t, old), "past the grace window")
		require.True(t, f.live(t, next))
	})
	t.Run("a repeated refresh hands out the same successor", func(t *testing.T) {
		f := newFixture(t)
		old, _ := f.issue(t)
		first, info1, err := f.m.Refresh(ctx, old, ClientMeta{})
		require.NoError(t, err)
		f.clock.Advance(testGrace / 2)
		second, info2, err := f.m.Refresh(ctx, old, ClientMeta{})
		require.NoError(t, err)
		require.Equal(t, first, second)
		require.Equal(t, info1, info2)
		require.Equal(t, 2, f.db.Session.Query().CountX(ctx), "one login never forks")

		f.clock.Advance(testGrace)
		_, _, err = f.m.Refresh(ctx, old, ClientMeta{})
		require.ErrorIs(t, err, ErrInvalid, "past the grace window")
	})
	t.Run("the successor is capped by the login's absolute expiry", func(t *testing.T) {
		f := newFixture(t)
		skey, first := f.issue(t)
		var info Info
		for i := 0; !info.ExpiresAt.Equal(first.AbsoluteExpiresAt); i++ {
			require.Less(t, i, 60, "capped within the max age")
			f.clock.Advance(testTTL - time.Minute)
			var err error
			skey, info, err = f.m.Refresh(ctx, skey, ClientMeta{})
			require.NoError(t, err)
			require.False(t, info.ExpiresAt.After(first.AbsoluteExpiresAt))
		}
		require.True(t, f.live(t, skey))
		f.clock.Advance(info.ExpiresAt.Sub(f.clock.Now()))
		require.False(t, f.live(t, skey))
		_, _, err := f.m.Refresh(ctx, skey, ClientMeta{})
		require.ErrorIs(t, err, ErrInvalid, "max age reached")
	})
	t.Run("a successor revoked in the meantime is not handed out", func(t *testing.T) {
		f := newFixture(t)
		old, _ := f.issue(t)
		next, _, err := f.m.Refresh(ctx, old, ClientMeta{})
		require.NoError(t, err)
		f.db.Session.Update().Where(entsession.TokenHash(unhex(Hash(next)))).SetRevokedAt(f.clock.Now()).ExecX(ctx)
		_, _, err = f.m.Refresh(ctx, old, ClientMeta{})
		require.ErrorIs(t, err, ErrInvalid)
	})
	t.Run("garbage and unknown skeys", func(t *testing.T) {
		f := newFixture(t)
		_, _, err := f.m.Refresh(ctx, "garbage", ClientMeta{})
		require.ErrorIs(t, err, ErrInvalid)
		unknown, err := f.m.keys.NewToken()
		require.NoError(t, err)
		_, _, err = f.m.Refresh(ctx, unknown, ClientMeta{})
		require.ErrorIs(t, err, ErrInvalid)
	})
	t.Run("the cache refuses the shrunk entry: the old skey is buried", func(t *testing.T) {
		f := newFixture(t)
		old, _ := f.issue(t)
		f.cache.down.Store(true)
		next, _, err := f.m.Refresh(ctx, old, ClientMeta{})
		require.NoError(t, err)
		require.Equal(t, 1, f.m.Pending())
		f.cache.down.Store(false)
		f.requireLiveEntry(t, old, "the full-length entry is still there")
		require.False(t, f.live(t, old), "but refused while its tombstone waits")
		f.m.retryInvalidations(ctx)
		require.Equal(t, 0, f.m.Pending())
		f.requireDead(t, old)
		require.False(t, f.live(t, old))
		require.True(t, f.live(t, next))
	})
}

func TestRevocation(t *testing.T) {
	ctx := context.Background()
	t.Run("logout ends the whole login", func(t *testing.T) {
		f := newFixture(t)
		old, _ := f.issue(t)
		next, _, err := f.m.Refresh(ctx, old, ClientMeta{})
		require.NoError(t, err)
		other, _ := f.issue(t)

		require.NoError(t, f.m.Revoke(ctx, next))
		require.False(t, f.live(t, old))
		require.False(t, f.live(t, next))
		require.True(t, f.live(t, other), "another login stays")
		f.requireDead(t, next)
		require.ErrorIs(t, f.m.Revoke(ctx, next), ErrInvalid, "twice")

		f.forget(t, next)
		require.False(t, f.live(t, next), "the row says revoked")
		f.requireDead(t, next, "and the verdict is cached")
	})
	t.Run("revoking a user", func(t *testing.T) {
		f := newFixture(t)
		a, _ := f.issue(t)
		b, _ := f.issue(t)
		active, err := f.m.Active(ctx, f.user)
		require.NoError(t, err)
		require.Len(t, active, 2)
		n, err := f.m.RevokeUser(ctx, f.user)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.False(t, f.live(t, a))
		require.False(t, f.live(t, b))
		n, err = f.m.RevokeUser(ctx, f.user)
		require.NoError(t, err)
		require.Zero(t, n)
		active, err = f.m.Active(ctx, f.user)
		require.NoError(t, err)
		require.Empty(t, active)
	})
	t.Run("revoked while the cache is down", func(t *testing.T) {
		f := newFixture(t)
		skey, _ := f.issue(t)
		require.True(t, f.live(t, skey)) // its entry is cached
		f.cache.down.Store(true)
		n, err := f.m.RevokeUser(ctx, f.user)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, 1, f.m.Pending())
		f.cache.down.Store(false)
		f.requireLiveEntry(t, skey, "the stale entry is still there")
		require.False(t, f.live(t, skey), "but the skey is refused while its tombstone waits")
		f.m.retryInvalidations(ctx)
		require.Zero(t, f.m.Pending())
		f.requireDead(t, skey)
	})
	t.Run("a pending tombstone past its use is dropped", func(t *testing.T) {
		f := newFixture(t)
		f.issue(t)
		f.cache.down.Store(true)
		_, err := f.m.RevokeUser(ctx, f.user)
		require.NoError(t, err)
		f.clock.Advance(testMaxAge + 2*time.Minute)
		f.m.retryInvalidations(ctx)
		require.Zero(t, f.m.Pending(), "dropped without the cache")
	})
}

func TestCacheRepair(t *testing.T) {
	ctx := context.Background()
	t.Run("a refill never overwrites a tombstone", func(t *testing.T) {
		f := newFixture(t)
		skey, info := f.issue(t)
		require.NoError(t, f.m.cacheInfo(ctx, Hash(skey), info, true), "Add onto a live entry is no error")
		key := CacheKey(Hash(skey))
		require.NoError(t, f.cache.Set(ctx, key, f.m.keys.tombstone(key), time.Hour))
		require.NoError(t, f.m.cacheInfo(ctx, Hash(skey), info, true))
		f.requireDead(t, skey)
		require.False(t, f.live(t, skey), "the tombstone wins over the live row")
	})
	t.Run("a dead skey reads the database once", func(t *testing.T) {
		f := newFixture(t)
		skey, _ := f.issue(t)
		f.clock.Advance(testTTL)
		f.forget(t, skey)
		require.False(t, f.live(t, skey))
		f.requireDead(t, skey, "the verdict is cached")
		f.clock.Advance(negativeTTL)
		require.Nil(t, f.entry(t, skey), "for a while")
	})
	t.Run("the cache down: the database answers", func(t *testing.T) {
		f := newFixture(t)
		skey, info := f.issue(t)
		f.cache.down.Store(true)
		got, err := f.m.Resolve(ctx, skey)
		require.NoError(t, err)
		require.Equal(t, info, got)
	})
	t.Run("a corrupt or forged entry: the database decides, and the entry is repaired", func(t *testing.T) {
		f := newFixture(t)
		skey, _ := f.issue(t)
		require.NoError(t, f.cache.Set(ctx, CacheKey(Hash(skey)), []byte("{not json"), time.Hour))
		require.True(t, f.live(t, skey))
		f.requireLiveEntry(t, skey, "refilled")

		other, _ := f.issue(t)
		require.NoError(t, f.m.Revoke(ctx, other))
		dead := CacheKey(Hash(other))
		require.NoError(t, f.cache.Set(ctx, CacheKey(Hash(skey)), f.m.keys.tombstone(dead), time.Hour))
		require.True(t, f.live(t, skey), "another key's tombstone does not count")
	})
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	expired, _ := f.issue(t)
	revoked, _ := f.issue(t)
	f.clock.Advance(testTTL - time.Minute)
	require.NoError(t, f.m.Revoke(ctx, revoked))
	f.clock.Advance(time.Hour + time.Minute)
	n, err := f.m.Purge(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "revoked more than an hour ago; the other expired less than an hour ago")
	require.Equal(t, 1, f.db.Session.Query().CountX(ctx))
	keep, _ := f.issue(t)
	f.clock.Advance(time.Minute)
	n, err = f.m.Purge(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.False(t, f.live(t, expired))
	require.True(t, f.live(t, keep))
}
