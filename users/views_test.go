package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/sealer"
)

// cutCache is a cache an instance can be cut off from.
type cutCache struct {
	cache.Cache
	down atomic.Bool
}

var errCut = errors.New("cache unreachable")

func (c *cutCache) Get(ctx context.Context, key string) ([]byte, error) {
	if c.down.Load() {
		return nil, errCut
	}
	return c.Cache.Get(ctx, key)
}

func (c *cutCache) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if c.down.Load() {
		return errCut
	}
	return c.Cache.Set(ctx, key, v, ttl)
}

func (c *cutCache) Add(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if c.down.Load() {
		return errCut
	}
	return c.Cache.Add(ctx, key, v, ttl)
}

// viewWorld is a database and a cache shared by two instances' Views, a
// and b, on one fake clock; a reaches the cache through a cut-able link.
type viewWorld struct {
	db    *database.DB
	mem   *cache.Memory
	link  *cutCache
	clock *clock.Fake
	key   []byte // WXID_SECRET_KEY
	seal  *sealer.Sealer
	a, b  *Views
	alice int
	bob   int
}

func newViewWorld(t *testing.T) *viewWorld {
	t.Helper()
	w := &viewWorld{db: testenv.OpenDatabase(t, testenv.SQLite(t)),
		clock: clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	w.mem = cache.NewMemory(1000, cache.WithClock(w.clock.Now))
	w.link = &cutCache{Cache: w.mem}
	var err error
	w.key = sealer.GenerateKey()
	w.seal, err = sealer.New(w.key)
	require.NoError(t, err)
	w.a = w.views(w.link, w.seal)
	w.b = w.views(w.mem, w.seal)
	w.alice = w.newUser(t, "o-alice")
	w.bob = w.newUser(t, "o-bob")
	return w
}

func (w *viewWorld) views(c cache.Cache, s *sealer.Sealer) *Views {
	return NewViews(w.db.Client, c, s, ViewOptions{Now: w.clock.Now, Logger: slog.New(slog.DiscardHandler)})
}

func (w *viewWorld) newUser(t *testing.T, openID string) int {
	t.Helper()
	ctx := context.Background()
	now := w.clock.Now()
	u := w.db.Client.User.Create().SetCreatedAt(now).SetUpdatedAt(now).SaveX(ctx)
	w.db.Client.OpenID.Create().SetUserID(u.ID).SetAppid("wxapp").SetOpenid(openID).SaveX(ctx)
	return u.ID
}

// setNickname writes a user through ent (its version goes up), as the
// services do, without telling any cache.
func (w *viewWorld) setNickname(t *testing.T, id int, nick string) {
	t.Helper()
	w.db.Client.User.UpdateOneID(id).SetNickname(nick).SetUpdatedAt(w.clock.Now()).ExecX(context.Background())
}

// sneak changes a nickname behind every cache's back and without a new
// version, so that a read shows whether the cache or the database
// answered.
func (w *viewWorld) sneak(t *testing.T, id int, nick string) {
	t.Helper()
	_, err := w.db.SQL.ExecContext(context.Background(), "UPDATE users SET nickname = ? WHERE id = ?", nick, id)
	require.NoError(t, err)
}

func nickname(t *testing.T, v *Views, id int) string {
	t.Helper()
	u, err := v.Get(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, u)
	if u.Nickname == nil {
		return ""
	}
	return *u.Nickname
}

func (w *viewWorld) raw(t *testing.T, id int) []byte {
	t.Helper()
	b, err := w.mem.Get(context.Background(), ViewKey(id))
	if errors.Is(err, cache.ErrCacheMiss) {
		return nil
	}
	require.NoError(t, err)
	return b
}

func (w *viewWorld) state(t *testing.T, v *Views, id int) entryState {
	t.Helper()
	_, st := v.sealer.open(ViewKey(id), w.raw(t, id))
	return st
}

func TestViewsCacheTheWholeViewAndTombstonesHideIt(t *testing.T) {
	w := newViewWorld(t)
	ctx := context.Background()
	w.setNickname(t, w.alice, "one")
	require.Equal(t, "one", nickname(t, w.a, w.alice)) // a miss: cached
	w.sneak(t, w.alice, "sneaked")
	require.Equal(t, "one", nickname(t, w.a, w.alice), "a hit reads no SQL")
	require.Equal(t, "one", nickname(t, w.b, w.alice), "another instance shares the view")
	u, err := w.b.Get(ctx, w.alice)
	require.NoError(t, err)
	require.Len(t, u.Edges.OpenIds, 1)
	require.Equal(t, "o-alice", u.Edges.OpenIds[0].Openid)
	un, err := u.Edges.UnionIDOrErr()
	require.Nil(t, un)
	require.Error(t, err, "the unionid edge is loaded: the user has none")

	w.setNickname(t, w.alice, "two")
	w.a.Invalidate(ctx, w.alice)
	require.Equal(t, entryTombstone, w.state(t, w.b, w.alice))
	require.Equal(t, "two", nickname(t, w.b, w.alice), "the next read on any instance sees the write")
	w.sneak(t, w.alice, "three")
	require.Equal(t, "three", nickname(t, w.b, w.alice), "no view is cached while the tombstone lasts")
	w.clock.Advance(TombstoneTTL)
	require.Equal(t, "three", nickname(t, w.b, w.alice))
	require.Equal(t, entryView, w.state(t, w.b, w.alice), "cached again once the tombstone expired")

	w.clock.Advance(DefaultViewTTL)
	w.sneak(t, w.alice, "four")
	require.Equal(t, "four", nickname(t, w.a, w.alice), "an expired view is not used")

	u, err = w.a.Get(ctx, 1<<40)
	require.NoError(t, err)
	require.Nil(t, u, "no such user")
	require.Nil(t, w.raw(t, 1<<40), "nothing cached for a missing user")
}

// TestViewsRefuseWhatAnAttackerWrites: whoever can write to memcached
// cannot forge a view, edit one, move one user's view onto another's key,
// or replay an old one; each is a miss that the database answers, and is
// replaced by a tombstone.
func TestViewsRefuseWhatAnAttackerWrites(t *testing.T) {
	w := newViewWorld(t)
	ctx := context.Background()
	w.setNickname(t, w.alice, "alice")
	w.setNickname(t, w.bob, "bob")
	require.Equal(t, "alice", nickname(t, w.a, w.alice))
	require.Equal(t, "bob", nickname(t, w.a, w.bob))
	aliceEntry, bobEntry := w.raw(t, w.alice), w.raw(t, w.bob)
	require.NotContains(t, string(aliceEntry), "alice", "the view is encrypted")

	otherSeal, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	other := newViewSealer(otherSeal)
	forged := other.seal(ViewKey(w.alice), viewRecord{ID: w.alice, Version: 1 << 40, Expires: w.clock.Now().Add(time.Hour).UnixNano(),
		Nickname: ptr("forged"), OpenIDs: []viewOpenID{}})
	edited := append([]byte(nil), aliceEntry...)
	edited[len(edited)-1] ^= 1

	for name, b := range map[string][]byte{
		"bob's view moved onto alice's key": bobEntry,
		"a view sealed under another key":   forged,
		"an edited view":                    edited,
		"garbage":                           []byte("V\x01\x02"),
		"empty":                             {},
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, w.mem.Set(ctx, ViewKey(w.alice), b, time.Hour))
			require.Equal(t, "alice", nickname(t, w.b, w.alice))
			require.Equal(t, entryTombstone, w.state(t, w.b, w.alice), "replaced by a tombstone")
		})
	}

	// A replay: alice's old view, after a write whose tombstone expired.
	w.setNickname(t, w.alice, "alice 2")
	w.a.Invalidate(ctx, w.alice)
	require.NoError(t, w.b.PollWrites(ctx))
	w.clock.Advance(TombstoneTTL)
	require.NoError(t, w.mem.Set(ctx, ViewKey(w.alice), aliceEntry, time.Hour))
	require.Equal(t, "alice 2", nickname(t, w.b, w.alice), "the feed knows a newer version")
	require.Equal(t, entryTombstone, w.state(t, w.b, w.alice))
}

func ptr[T any](v T) *T { return &v }

// TestViewsOpenUnderThePreviousKey: rotating WXID_SECRET_KEY keeps the
// cached views while the old key is listed as previous.
func TestViewsOpenUnderThePreviousKey(t *testing.T) {
	w := newViewWorld(t)
	w.setNickname(t, w.alice, "alice")
	require.Equal(t, "alice", nickname(t, w.a, w.alice))
	w.sneak(t, w.alice, "sneaked")
	rotated, err := sealer.New(sealer.GenerateKey(), w.key)
	require.NoError(t, err)
	require.Equal(t, "alice", nickname(t, w.views(w.mem, rotated), w.alice), "a hit under the previous key")
	fresh, err := sealer.New(sealer.GenerateKey())
	require.NoError(t, err)
	require.Equal(t, "sneaked", nickname(t, w.views(w.mem, fresh), w.alice), "an unknown key is a miss")
}

// TestViewsSlowReaderPlantsNoStaleView: a reader whose database read
// started more than TombstoneTTL/2 ago caches nothing, and a reader that
// read before a write commits cannot cache over the write's tombstone.
func TestViewsSlowReaderPlantsNoStaleView(t *testing.T) {
	w := newViewWorld(t)
	ctx := context.Background()
	w.setNickname(t, w.alice, "old")

	// The write commits and its tombstone lands while the read is in
	// flight: the reader's Add fails on the tombstone.
	w.b.readHook = func() {
		w.b.readHook = nil
		w.setNickname(t, w.alice, "new")
		w.a.Invalidate(ctx, w.alice)
	}
	require.Equal(t, "old", nickname(t, w.b, w.alice), "the read was concurrent with the write")
	require.Equal(t, entryTombstone, w.state(t, w.b, w.alice))
	require.Equal(t, "new", nickname(t, w.a, w.alice))

	// A read that took longer than half a tombstone's life caches nothing:
	// here a write committed during it, and its tombstone has expired by
	// the time the read would cache what it read before the write.
	w.clock.Advance(TombstoneTTL)
	w.b.readHook = func() {
		w.b.readHook = nil
		w.setNickname(t, w.alice, "newer")
		w.a.Invalidate(ctx, w.alice)
		w.clock.Advance(TombstoneTTL)
	}
	require.Equal(t, "new", nickname(t, w.b, w.alice), "the read was concurrent with the write")
	require.Nil(t, w.raw(t, w.alice), "a slow reader caches nothing")
	require.Equal(t, "newer", nickname(t, w.b, w.alice))
	require.Equal(t, entryView, w.state(t, w.b, w.alice), "a prompt one does")
	require.Equal(t, "newer", nickname(t, w.a, w.alice))
}

// TestViewsWriteFeedCoversACutOffWriter: an instance cut off from the cache
// writes; the other instance, which still holds the old view, refuses it
// once its feed has polled, and the writer reads the database until its
// tombstone is written.
func TestViewsWriteFeedCoversACutOffWriter(t *testing.T) {
	w := newViewWorld(t)
	ctx := context.Background()
	w.setNickname(t, w.alice, "old")
	require.Equal(t, "old", nickname(t, w.b, w.alice))
	require.NoError(t, w.b.PollWrites(ctx))

	w.link.down.Store(true)
	w.clock.Advance(time.Second)
	w.setNickname(t, w.alice, "new")
	w.a.Invalidate(ctx, w.alice)
	require.Equal(t, 1, w.a.PendingTombstones())
	require.Equal(t, "new", nickname(t, w.a, w.alice), "the writer reads the database")
	require.Equal(t, "old", nickname(t, w.b, w.alice), "the other instance has not polled yet")
	require.NoError(t, w.b.PollWrites(ctx))
	require.Equal(t, "new", nickname(t, w.b, w.alice), "refused once the feed knows the write")
	require.Equal(t, entryTombstone, w.state(t, w.b, w.alice), "and buried")

	w.link.down.Store(false)
	w.a.retryTombstones(ctx)
	require.Zero(t, w.a.PendingTombstones())

	// A new instance learns the writes of the last TTL at its first poll.
	c := w.views(w.mem, w.seal)
	require.NoError(t, c.PollWrites(ctx))
	require.True(t, c.feed.newer(w.alice, 1))
	w.clock.Advance(DefaultViewTTL + 2*time.Minute)
	require.NoError(t, c.PollWrites(ctx))
	require.Zero(t, c.KnownWrites(), "forgotten once no older view can be live")
}

// answeredWrites numbers writes one at a time; a write's number is
// published once it has returned.
type answeredWrites struct {
	mu   sync.Mutex
	last atomic.Int64
}

// write runs do with the next number and publishes it once do returned.
func (a *answeredWrites) write(do func(n int64) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.last.Load() + 1
	if err := do(n); err != nil {
		return err
	}
	a.last.Store(n)
	return nil
}

// readsNeverOlder reads until deadline and fails on a read that returns a
// number older than the last write that had returned before it started.
func readsNeverOlder(deadline time.Time, a *answeredWrites, read func() (int64, error)) error {
	for time.Now().Before(deadline) {
		floor := a.last.Load()
		got, err := read()
		if err != nil {
			return err
		}
		if got < floor {
			return fmt.Errorf("read %d after write %d had returned", got, floor)
		}
	}
	return nil
}

// writeNicknames numbers alice's nickname through v until deadline; after
// each write a while passes and its tombstone expires.
func (w *viewWorld) writeNicknames(ctx context.Context, v *Views, writes *answeredWrites, deadline time.Time) error {
	for time.Now().Before(deadline) {
		err := writes.write(func(n int64) error {
			if _, err := w.db.Client.User.UpdateOneID(w.alice).SetNickname(fmt.Sprint(n)).SetUpdatedAt(w.clock.Now()).Save(ctx); err != nil {
				return err
			}
			v.Invalidate(ctx, w.alice)
			return nil
		})
		if err != nil {
			return err
		}
		// Let the tombstone expire after a while, so that views are cached
		// between writes.
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		w.clock.Advance(TombstoneTTL)
		time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
	}
	return nil
}

// TestViewsNeverServeAViewOlderThanAnAnsweredWrite runs writers and readers
// on two instances at once while the clock moves (tombstones expire and
// views are cached again): a read that starts after a write has returned
// never shows an older nickname.
func TestViewsNeverServeAViewOlderThanAnAnsweredWrite(t *testing.T) {
	w := newViewWorld(t)
	ctx := context.Background()
	var writes answeredWrites
	var reads, loads atomic.Int64
	w.a.readHook = func() { loads.Add(1) }
	w.b.readHook = w.a.readHook
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errs <- err
			}
		}()
	}
	for _, v := range []*Views{w.a, w.b} {
		run(func() error { return w.writeNicknames(ctx, v, &writes, deadline) })
		run(func() error {
			return readsNeverOlder(deadline, &writes, func() (int64, error) {
				reads.Add(1)
				u, err := v.Get(ctx, w.alice)
				if err != nil || u.Nickname == nil {
					return 0, err
				}
				n, err := strconv.ParseInt(*u.Nickname, 10, 64)
				return n, err
			})
		})
	}
	run(func() error { // time passes; the feed polls
		for time.Now().Before(deadline) {
			w.clock.Advance(TombstoneTTL / 20)
			if err := w.b.PollWrites(ctx); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Greater(t, writes.last.Load(), int64(10))
	require.Less(t, loads.Load(), reads.Load(), "some reads were cache hits")
}
