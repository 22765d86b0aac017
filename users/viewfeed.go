package users

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxid/wxid/ent/user"
)

// The write feed makes a write visible on every instance even when the
// writing instance cannot write its tombstone into the cache, and refuses
// views replayed into memcached.
//
// Every instance polls the database once a second for the users written
// since its last poll (an index range scan on users(updated_at, version),
// which covers the read) and remembers each one's newest version until no
// view cached before that write can still be live: a view never outlives
// the TTL it was cached with. A cached view older than the remembered
// version is refused and replaced by a tombstone. An instance that starts
// reads the writes of the last TTL first.
//
// The poll's lower bound is the newest updated_at already seen minus
// feedOverlap, so clocks that differ a little between instances, and
// transactions that commit a little after they stamped updated_at, are
// still caught; users seen twice are simply remembered once.
const (
	// FeedInterval is how often the write feed polls the database.
	FeedInterval = time.Second
	// feedOverlap re-reads this much before the newest write seen.
	feedOverlap = 10 * time.Second
	// maxKnownWrites bounds the users the feed remembers; past it the
	// ones that matter least long are dropped first.
	maxKnownWrites = 1_000_000
)

// mark is what marks remember of a user.
type mark struct {
	version int64
	until   time.Time
}

// marks maps user IDs to a version and the time until which it matters,
// bounded in size.
type marks struct {
	mu  sync.RWMutex
	m   map[int]mark
	n   atomic.Int64 // len(m), read without the lock on the hot path
	max int
}

func newMarks(max int) *marks { return &marks{m: map[int]mark{}, max: max} }

// add remembers version (keeping the newest) until until (keeping the
// latest).
func (s *marks) add(id int, version int64, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[id]
	if !ok && len(s.m) >= s.max {
		s.evictLocked()
	}
	if version > cur.version {
		cur.version = version
	}
	if until.After(cur.until) {
		cur.until = until
	}
	s.m[id] = cur
	s.n.Store(int64(len(s.m)))
}

func (s *marks) evictLocked() {
	victim, found := 0, false
	var soonest time.Time
	for id, m := range s.m {
		if !found || m.until.Before(soonest) {
			victim, soonest, found = id, m.until, true
		}
	}
	delete(s.m, victim)
}

// get returns what is remembered of id; free while nothing is.
func (s *marks) get(id int) (mark, bool) {
	if s.n.Load() == 0 {
		return mark{}, false
	}
	s.mu.RLock()
	m, ok := s.m[id]
	s.mu.RUnlock()
	return m, ok
}

func (s *marks) has(id int) bool {
	_, ok := s.get(id)
	return ok
}

func (s *marks) remove(id int) {
	s.mu.Lock()
	delete(s.m, id)
	s.n.Store(int64(len(s.m)))
	s.mu.Unlock()
}

func (s *marks) len() int { return int(s.n.Load()) }

// expire forgets what no longer matters at now.
func (s *marks) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, m := range s.m {
		if !m.until.After(now) {
			delete(s.m, id)
		}
	}
	s.n.Store(int64(len(s.m)))
}

func (s *marks) snapshot() map[int]mark {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[int]mark, len(s.m))
	for id, m := range s.m {
		out[id] = m
	}
	return out
}

// writeFeed is what the feed has learnt.
type writeFeed struct {
	known     *marks
	mu        sync.Mutex
	watermark time.Time // newest updated_at seen
	loaded    bool      // the start-up load has run
	expired   time.Time // when known last forgot what no longer matters
}

// expireEvery is how often the feed forgets the writes that no longer
// matter: a sweep of every remembered user holds the lock the hot path
// reads under, and remembering a write longer only refuses views that are
// older than it anyway.
const expireEvery = time.Minute

func newWriteFeed() *writeFeed { return &writeFeed{known: newMarks(maxKnownWrites)} }

// newer reports whether the feed saw a write of the user newer than
// version.
func (f *writeFeed) newer(userID int, version int64) bool {
	m, ok := f.known.get(userID)
	return ok && m.version > version
}

// KnownWrites reports how many written users the feed remembers.
func (v *Views) KnownWrites() int { return v.feed.known.len() }

// PollWrites reads the users written since the last poll (at the first
// poll, those of the last TTL) and remembers their versions. Run calls it
// every FeedInterval; tests call it to poll at once.
func (v *Views) PollWrites(ctx context.Context) error {
	f := v.feed
	now := v.now()
	f.mu.Lock()
	from, loaded := f.watermark.Add(-feedOverlap), f.loaded
	f.mu.Unlock()
	if !loaded {
		from = now.Add(-v.ttl - feedOverlap)
	}
	rows, err := v.db.User.Query().
		Where(user.UpdatedAtGTE(from)).
		Select(user.FieldID, user.FieldUpdatedAt, user.FieldVersion).
		All(ctx)
	if err != nil {
		return fmt.Errorf("polling user writes: %w", err)
	}
	var newest time.Time
	for _, r := range rows {
		// A view cached before this write expires at most ttl after it
		// (plus a minute for whole-second cache TTLs and clocks).
		f.known.add(r.ID, r.Version, r.UpdatedAt.Add(v.ttl+time.Minute))
		if r.UpdatedAt.After(newest) {
			newest = r.UpdatedAt
		}
	}
	f.mu.Lock()
	if newest.After(f.watermark) {
		f.watermark = newest
	}
	if !f.loaded {
		f.loaded = true
		if f.watermark.IsZero() {
			f.watermark = from.Add(feedOverlap)
		}
	}
	sweep := now.Sub(f.expired) >= expireEvery
	if sweep {
		f.expired = now
	}
	f.mu.Unlock()
	if sweep {
		f.known.expire(now)
	}
	return nil
}
