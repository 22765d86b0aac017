package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/wxid/wxid/cache"
)

// The purge of dead sessions.
const (
	// purgeBatch bounds one delete of dead sessions: small enough that a
	// batch holds its rows, its index pages and the redo log for a few
	// milliseconds only.
	purgeBatch = 200
	// purgePause separates two batches: a backlog is deleted at up to
	// 2,000 rows a second (a 2M-row backlog in about 17 minutes, in the
	// background). Faster, the deletes' redo and page flushing stalled
	// logins' commits on a database whose sessions fit in memory
	// (scripts/scale.sh -purge-backlog: login p99 3.8x at 6,400 rows a
	// second). A batch that took longer than purgePause/2 (a busy
	// database) is followed by a pause twice as long as it took, so the
	// purge holds the database at most a third of the time and slows down
	// by itself when logins need it.
	purgePause = 100 * time.Millisecond
	// purgeLeaseKey is the cache key of the lease that lets one instance
	// at a time purge: the others would only compete for the same rows.
	purgeLeaseKey = "wxid:session-purge-lease"
	// purgeLease is how long the lease lasts; a pass stops when it runs
	// out (the next pass, on any instance, goes on).
	purgeLease = 5 * time.Minute
)

// Purge deletes sessions that expired or were revoked more than an hour
// ago, in batches of purgeBatch rows purgePause (or twice as long as the
// batch took, when longer) apart, and returns how many it deleted. One instance
// at a time purges: a pass first takes a
// lease in the cache (Add, purgeLease) and does nothing when another
// instance holds it; when the cache cannot be reached it purges anyway (a
// delete of the same rows twice is only wasted work).
func (m *Manager) Purge(ctx context.Context) (int, error) {
	owner := make([]byte, 16)
	_, _ = rand.Read(owner)
	switch err := m.cache.Add(ctx, purgeLeaseKey, owner, purgeLease); {
	case errors.Is(err, cache.ErrNotStored):
		m.log.DebugContext(ctx, "another instance is purging sessions")
		return 0, nil
	case err != nil:
		m.log.WarnContext(ctx, "purging sessions without a lease: the cache is unavailable", "err", err)
	default:
		defer m.releasePurgeLease(owner)
	}
	start := m.now()
	cutoff := start.Add(-time.Hour)
	total := 0
	for {
		began := m.now()
		n, err := m.store.PurgeBatch(ctx, cutoff, purgeBatch)
		took := m.now().Sub(began)
		total += n
		m.metrics.purged.Add(float64(n))
		if err != nil || n < purgeBatch {
			return total, err
		}
		if m.now().Sub(start) > purgeLease-purgeLease/10 {
			m.log.InfoContext(ctx, "purged sessions; the rest in the next pass", "purged", total)
			return total, nil
		}
		t := time.NewTimer(max(purgePause, 2*took))
		select {
		case <-ctx.Done():
			t.Stop()
			return total, ctx.Err()
		case <-t.C:
		}
	}
}

// releasePurgeLease ends this instance's lease, unless it ran out and
// another instance holds it now.
func (m *Manager) releasePurgeLease(owner []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if v, err := m.cache.Get(ctx, purgeLeaseKey); err == nil && bytes.Equal(v, owner) {
		_ = m.cache.Delete(ctx, purgeLeaseKey)
	}
}
