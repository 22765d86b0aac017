package session

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxPending bounds the invalidations kept for retry while the cache is
// unreachable; past it the oldest-expiring entries are dropped first.
const maxPending = 100_000

// pendingInvalidations are tombstones that could not be written yet: skey
// hash to the time until which the tombstone matters.
type pendingInvalidations struct {
	mu sync.Mutex
	m  map[string]time.Time
	n  atomic.Int64 // len(m), read without the lock on the hot path
}

func newPendingInvalidations() *pendingInvalidations {
	return &pendingInvalidations{m: map[string]time.Time{}}
}

func (p *pendingInvalidations) add(hash string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= maxPending {
		var victim string
		var soonest time.Time
		for h, u := range p.m {
			if victim == "" || u.Before(soonest) {
				victim, soonest = h, u
			}
		}
		delete(p.m, victim)
	}
	p.m[hash] = until
	p.n.Store(int64(len(p.m)))
}

func (p *pendingInvalidations) remove(hash string) {
	p.mu.Lock()
	delete(p.m, hash)
	p.n.Store(int64(len(p.m)))
	p.mu.Unlock()
}

// has reports whether hash waits for its tombstone; free when none waits.
func (p *pendingInvalidations) has(hash string) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.m[hash]
	return ok
}

func (p *pendingInvalidations) snapshot() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]time.Time, len(p.m))
	for h, u := range p.m {
		out[h] = u
	}
	return out
}

// Pending reports how many cache invalidations wait for the cache to come
// back.
func (m *Manager) Pending() int {
	m.pending.mu.Lock()
	defer m.pending.mu.Unlock()
	return len(m.pending.m)
}
