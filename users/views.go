package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/sealer"
)

// Views is the cache of users' views (the user with its unionid and its
// openids, everything `me` can select), so that `me` reads no SQL on a
// hit. It is safe for concurrent use; a nil *Views caches nothing.
//
// # Writers
//
// Every write of a user, its unionid or its openids (login, phone,
// profile, disable and enable, merge, erasure) calls Invalidate once its
// transaction has committed and before it answers: Invalidate sets an
// authenticated tombstone under the user's key for TombstoneTTL. A
// tombstone that cannot be written is retried by Run, and until then this
// instance reads the user from the database.
//
// # Readers
//
// Get reads the cache: a view that opens, has not expired and is not
// older than what the write feed knows of the user is the answer. On a
// miss it reads the database (one statement) and Adds the view — Add,
// never Set, so that a reader never overwrites a tombstone or a newer
// view — unless its read started more than TombstoneTTL/2 ago: a reader
// that read before a write committed either Adds before the writer's
// tombstone (which overwrites it) or while the tombstone holds the key
// (and fails), never after the tombstone expired. A tombstone, a forged
// entry or a stale view sends the read to the database without an Add;
// the latter two are replaced by a tombstone first.
//
// # The write feed
//
// An instance cut off from the cache cannot write its tombstones, and
// someone who can write to memcached can replay an older view. Every
// instance therefore polls users.updated_at once a second (viewfeed.go) and
// refuses a cached view whose version (users.version, which every write
// increments) is older than the newest the feed has seen. So a write is
// visible on the next request of every instance when its tombstone reached
// the cache, and within about a second otherwise.
type Views struct {
	db      *ent.Client
	cache   cache.Cache
	sealer  viewSealer
	now     func() time.Time
	log     *slog.Logger
	ttl     time.Duration
	pending *marks // users whose tombstone is still to be written
	feed    *writeFeed
	// readHook runs between a miss's database read and its Add (tests).
	readHook func()
}

// TombstoneTTL is how long a write's tombstone keeps the user's views out
// of the cache.
const TombstoneTTL = 5 * time.Second

// DefaultViewTTL is how long a cached view lives.
const DefaultViewTTL = 10 * time.Minute

// ViewOptions configure Views.
type ViewOptions struct {
	// TTL is how long a view stays cached; 0 means DefaultViewTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// NewViews returns the view cache over the database and the cache; views
// are sealed under a key derived from s.
func NewViews(db *ent.Client, c cache.Cache, s *sealer.Sealer, o ViewOptions) *Views {
	if o.TTL <= 0 {
		o.TTL = DefaultViewTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Views{db: db, cache: c, sealer: newViewSealer(s), now: o.Now, log: o.Logger, ttl: o.TTL,
		pending: newMarks(maxPendingTombstones), feed: newWriteFeed()}
}

// maxPendingTombstones bounds the tombstones kept for retry.
const maxPendingTombstones = 100_000

// Get returns the view of a user: the UnionID and OpenIds edges loaded;
// nil without an error when no such user (with an openid) exists.
func (v *Views) Get(ctx context.Context, userID int) (*ent.User, error) {
	key := ViewKey(userID)
	add := true
	if v.pending.has(userID) {
		add = false // our own tombstone is not written yet: the database decides
	} else {
		b, err := v.cache.Get(ctx, key)
		switch {
		case err == nil:
			var u *ent.User
			if u, add = v.fromCache(ctx, userID, key, b); u != nil {
				return u, nil
			}
		case errors.Is(err, cache.ErrCacheMiss):
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			// The cache wrapper logs and counts the failure itself.
		}
	}
	return v.load(ctx, userID, key, add)
}

// fromCache decides on an entry read under key: the user of a view to
// answer with, or nil and whether the database's answer may be added (an
// expired view's key is about to be free; a tombstone's is not).
func (v *Views) fromCache(ctx context.Context, userID int, key string, b []byte) (_ *ent.User, add bool) {
	r, state := v.sealer.open(key, b)
	switch {
	case state == entryTombstone:
		return nil, false
	case state == entryInvalid || r.ID != userID:
		v.log.WarnContext(ctx, "user view cache entry failed authentication; reading the database", "user_id", userID)
		v.bury(ctx, userID)
		return nil, false
	case v.feed.newer(userID, r.Version):
		// A write the feed saw, whose tombstone did not reach the cache
		// (or was overwritten by a replay).
		v.bury(ctx, userID)
		return nil, false
	case !v.now().Before(time.Unix(0, r.Expires)):
		return nil, true
	}
	return r.user(), false
}

// load reads the user's view from the database and, with add, caches it,
// unless the read started too long ago to be sure it came after every
// write whose tombstone has expired.
func (v *Views) load(ctx context.Context, userID int, key string, add bool) (*ent.User, error) {
	start := v.now()
	rows, err := ViewQuery(v.db.User.Query().Where(user.ID(userID))).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading user: %w", err)
	}
	u, err := Fold(rows)
	if err != nil || u == nil {
		return nil, err
	}
	if v.readHook != nil {
		v.readHook()
	}
	now := v.now()
	if !add || now.Sub(start) > TombstoneTTL/2 || v.feed.newer(userID, u.Version) {
		return u, nil
	}
	b := v.sealer.seal(key, recordOf(u, now.Add(v.ttl)))
	if err := v.cache.Add(ctx, key, b, v.ttl); err != nil && !errors.Is(err, cache.ErrNotStored) && ctx.Err() == nil {
		v.log.DebugContext(ctx, "caching user view failed", "err", err)
	}
	return u, nil
}

// Invalidate tells the cache that the users were written: call it after
// the write's transaction has committed and before answering. A tombstone
// that cannot be written is retried by Run; until then this instance reads
// the user from the database, and the write feed tells the others.
func (v *Views) Invalidate(ctx context.Context, userIDs ...int) {
	if v == nil {
		return
	}
	for _, id := range userIDs {
		v.bury(ctx, id)
	}
}

// bury writes the tombstone of a user's views, or queues it.
func (v *Views) bury(ctx context.Context, userID int) {
	key := ViewKey(userID)
	if err := v.cache.Set(context.WithoutCancel(ctx), key, v.sealer.tombstone(key), TombstoneTTL); err != nil {
		v.log.WarnContext(ctx, "cache unreachable while invalidating a user view; will retry", "user_id", userID, "err", err)
		// Views cached before the write live at most ttl.
		v.pending.add(userID, 0, v.now().Add(v.ttl))
	}
}

// retryTombstones writes the tombstones that failed earlier.
func (v *Views) retryTombstones(ctx context.Context) {
	now := v.now()
	for id, m := range v.pending.snapshot() {
		if !m.until.After(now) {
			v.pending.remove(id)
			continue
		}
		key := ViewKey(id)
		if err := v.cache.Set(ctx, key, v.sealer.tombstone(key), TombstoneTTL); err != nil {
			return // still unreachable; try again on the next tick
		}
		v.pending.remove(id)
	}
}

// PendingTombstones reports how many tombstones wait for the cache.
func (v *Views) PendingTombstones() int { return v.pending.len() }

// Run does the background work until ctx ends: every FeedInterval it
// retries the tombstones that failed and polls the write feed.
func (v *Views) Run(ctx context.Context) {
	t := time.NewTicker(FeedInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v.retryTombstones(ctx)
			if err := v.PollWrites(ctx); err != nil && ctx.Err() == nil {
				v.log.WarnContext(ctx, "user view feed: database unreachable; writes by other instances may show late", "err", err)
			}
		}
	}
}
