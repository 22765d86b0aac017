package session

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The revocation feed makes a revocation stick on every instance even when
// the revoking instance cannot write the tombstone into the cache.
//
// Every instance polls the database once a second for sessions revoked
// since its last poll (an index range scan on sessions.revoked_at) and
// remembers their hashes in memory until no cache entry of theirs can still
// be live: an entry never outlives the idle expiry it was written with,
// which is at most the session TTL after the revocation. A cache hit for a
// remembered hash is refused. So:
//
//   - an instance cut off from memcached that revokes an skey (logout,
//     revokeUserSessions, disableUser) stops it on every other instance
//     within one poll, although their shared cache still holds the entry;
//   - an instance that restarts reads the revocations of the last TTL at
//     start-up, so a restart before memcached comes back forgets nothing;
//   - an entry replayed into memcached by someone who can write to it
//     cannot bring a revoked skey back.
//
// The poll's lower bound is the newest revoked_at already seen minus
// feedOverlap, so clocks that differ a little between instances, and
// transactions that commit a little after they stamped revoked_at, are
// still caught. Hashes seen twice are simply remembered once.
const (
	// FeedInterval is how often the revocation feed polls the database.
	FeedInterval = time.Second
	// feedOverlap re-reads this much before the newest revocation seen.
	feedOverlap = 10 * time.Second
	// maxRevoked bounds the hashes kept in memory; past it the ones that
	// matter least long are dropped first.
	maxRevoked = 1_000_000
)

// revocations is what the feed has learnt: skey hash -> the time until
// which a cache entry of it could still be live.
type revocations struct {
	mu        sync.RWMutex
	m         map[string]time.Time
	n         atomic.Int64 // len(m), read without the lock on the hot path
	watermark time.Time    // newest revoked_at seen
	loaded    bool         // the start-up load has run
}

func newRevocations() *revocations { return &revocations{m: map[string]time.Time{}} }

// has reports whether hash was revoked; free while nothing was.
func (r *revocations) has(hash string) bool {
	if r.n.Load() == 0 {
		return false
	}
	r.mu.RLock()
	_, ok := r.m[hash]
	r.mu.RUnlock()
	return ok
}

func (r *revocations) add(hash string, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[hash]; !ok && len(r.m) >= maxRevoked {
		r.evictLocked()
	}
	if until.After(r.m[hash]) {
		r.m[hash] = until
	}
	r.n.Store(int64(len(r.m)))
}

func (r *revocations) evictLocked() {
	var victim string
	var soonest time.Time
	for h, u := range r.m {
		if victim == "" || u.Before(soonest) {
			victim, soonest = h, u
		}
	}
	delete(r.m, victim)
}

// expire forgets the hashes whose entries can no longer be live.
func (r *revocations) expire(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for h, u := range r.m {
		if !u.After(now) {
			delete(r.m, h)
		}
	}
	r.n.Store(int64(len(r.m)))
}

// Revoked reports how many revoked skeys this instance remembers.
func (m *Manager) Revoked() int { return int(m.revoked.n.Load()) }

// PollRevocations reads the revocations since the last poll (at the first
// poll, those of the last TTL) and remembers them. Run calls it every
// FeedInterval; tests call it to poll at once.
func (m *Manager) PollRevocations(ctx context.Context) error {
	r := m.revoked
	now := m.now()
	r.mu.RLock()
	from, loaded := r.watermark.Add(-feedOverlap), r.loaded
	r.mu.RUnlock()
	if !loaded {
		from = now.Add(-m.opts.TTL - feedOverlap)
	}
	revs, err := m.store.RevokedSince(ctx, from)
	if err != nil {
		return err
	}
	newest := time.Time{}
	for _, rev := range revs {
		m.revoked.add(rev.Hash, m.entryLifeAfter(rev.At))
		if rev.At.After(newest) {
			newest = rev.At
		}
	}
	r.mu.Lock()
	if newest.After(r.watermark) {
		r.watermark = newest
	}
	if !r.loaded {
		r.loaded = true
		if r.watermark.IsZero() {
			r.watermark = from.Add(feedOverlap)
		}
	}
	r.mu.Unlock()
	r.expire(now)
	return nil
}

// entryLifeAfter is how long after a revocation at `at` a cache entry
// written before it could still be live (plus a minute for whole-second
// cache TTLs and clocks).
func (m *Manager) entryLifeAfter(at time.Time) time.Time {
	return at.Add(m.opts.TTL + time.Minute)
}
