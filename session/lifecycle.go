package session

import (
	"context"
	"fmt"
	"time"

	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/ent"
)

// Refresh rotates an skey: it returns a new skey with a fresh idle expiry,
// capped by the login's absolute expiry, and leaves the old one working for
// the grace window. Refreshing an skey that was already rotated (a
// concurrent or repeated call within the grace window) returns the same
// successor, so one login never forks into two.
//
// The database decides, in one transaction holding the old row's lock;
// the cache learns the outcome after the commit.
func (m *Manager) Refresh(ctx context.Context, skey string, meta ClientMeta) (string, Info, error) {
	if !m.keys.Verify(skey) {
		return "", Info{}, ErrInvalid
	}
	hash := Hash(skey)
	var rot rotation
	err := m.store.Transact(ctx, func(tx *Store) error {
		var err error
		rot, err = m.rotate(ctx, tx, hash, meta)
		return err
	})
	if err != nil {
		return "", Info{}, err
	}
	if rot.fresh {
		m.publishRotation(ctx, hash, rot)
		m.metrics.refreshed.Inc()
	}
	return rot.skey, rot.next, nil
}

// rotation is the outcome of a Refresh.
type rotation struct {
	// skey and next are the successor skey and its session.
	skey string
	next Info
	// prev is the rotated session, now expiring at the end of its grace
	// window; set when fresh.
	prev Info
	// fresh is true when this call rotated, false when it found the
	// successor of an earlier rotation.
	fresh bool
}

// rotate decides a Refresh inside tx: the old session must be live; a
// rotated one hands out its successor, any other one within the login's
// absolute expiry gets a new successor.
func (m *Manager) rotate(ctx context.Context, tx *Store, hash string, meta ClientMeta) (rotation, error) {
	now := m.now()
	old, err := tx.Lock(ctx, hash)
	switch {
	case err != nil:
		return rotation{}, err
	case !old.Live(now):
		return rotation{}, ErrInvalid
	case old.RotatedAt != nil:
		return m.successor(ctx, tx, old, now)
	case !now.Before(old.AbsoluteExpiresAt):
		return rotation{}, ErrInvalid
	}
	return m.rotateNow(ctx, tx, old, now, meta)
}

// successor returns the successor of old, rotated earlier: the same skey
// for every call within the grace window, while it lives.
func (m *Manager) successor(ctx context.Context, tx *Store, old *Record, now time.Time) (rotation, error) {
	plain, err := m.sealer.Open(old.SuccessorToken, []byte(old.TokenHash))
	if err != nil {
		return rotation{}, fmt.Errorf("opening successor skey: %w", err)
	}
	next, err := tx.FindWithAccount(ctx, Hash(string(plain)))
	if err != nil {
		return rotation{}, fmt.Errorf("reading successor session: %w", err)
	}
	if !next.Live(now) {
		return rotation{}, ErrInvalid
	}
	return rotation{skey: string(plain), next: next.Info()}, nil
}

// rotateNow creates the successor of old in the same login (family and
// absolute expiry) and cuts old to the grace window, recording the
// successor sealed under old's hash so that a repeated call finds it.
func (m *Manager) rotateNow(ctx context.Context, tx *Store, old *Record, now time.Time, meta ClientMeta) (rotation, error) {
	skey, err := m.keys.NewToken()
	if err != nil {
		return rotation{}, err
	}
	next := &Record{UserID: old.UserID, OpenIDID: old.OpenIDID, AppID: old.AppID, OpenID: old.OpenID,
		TokenHash: Hash(skey), Family: old.Family,
		CreatedAt: now, ExpiresAt: minTime(now.Add(m.opts.TTL), old.AbsoluteExpiresAt),
		AbsoluteExpiresAt: old.AbsoluteExpiresAt, LastRefreshedAt: &now}
	if err := tx.Create(ctx, next, meta); err != nil {
		return rotation{}, fmt.Errorf("creating rotated session: %w", err)
	}
	prev := *old
	prev.RotatedAt, prev.ExpiresAt = &now, minTime(old.ExpiresAt, now.Add(m.opts.Grace))
	if err := tx.MarkRotated(ctx, old.ID, now, prev.ExpiresAt, m.sealer.Seal([]byte(skey), []byte(old.TokenHash))); err != nil {
		return rotation{}, err
	}
	return rotation{skey: skey, next: next.Info(), prev: prev.Info(), fresh: true}, nil
}

// publishRotation caches the successor and shrinks the old skey's entry to
// the grace window. If the cache cannot take that, it buries the old entry
// instead: losing the grace is better than an entry that outlives it.
func (m *Manager) publishRotation(ctx context.Context, oldHash string, rot rotation) {
	_ = m.cacheInfo(ctx, Hash(rot.skey), rot.next, false)
	if !rot.prev.ExpiresAt.After(m.now()) || m.cacheInfo(ctx, oldHash, rot.prev, false) != nil {
		m.bury(ctx, []string{oldHash}, rot.prev.AbsoluteExpiresAt)
	}
}

// Revoke ends the login an skey belongs to: the skey itself and every skey
// rotated from or into it, recording a LOGOUT audit event in the same
// transaction. It returns ErrInvalid when the skey is not live.
func (m *Manager) Revoke(ctx context.Context, skey string) error {
	info, err := m.Resolve(ctx, skey)
	if err != nil {
		return err
	}
	r, err := m.store.Get(ctx, info.ID)
	if err != nil {
		return err
	}
	var rev Revoked
	err = m.store.Transact(ctx, func(st *Store) error {
		now := m.now()
		if rev, err = st.RevokeFamily(ctx, r.UserID, r.Family, now); err != nil || rev.N == 0 {
			return err
		}
		return audit.Record(ctx, st.Tx(), audit.Event{Kind: audit.Logout, At: now, UserID: r.UserID, Actor: audit.UserActor(r.UserID), Count: audit.Count(rev.N)})
	})
	if err != nil {
		return err
	}
	m.buryRevoked(ctx, rev)
	if rev.N == 0 {
		return ErrInvalid
	}
	return nil
}

// RevokeUser ends every live session of a user and returns how many it
// ended. It records no audit event: callers that must record one use
// RevokeUserTx.
func (m *Manager) RevokeUser(ctx context.Context, userID int) (int, error) {
	rev, err := m.store.RevokeUser(ctx, userID, m.now())
	if err != nil {
		return 0, err
	}
	m.buryRevoked(ctx, rev)
	return rev.N, nil
}

// RevokeUserTx revokes every live session of a user inside tx, the caller's
// transaction (which records the audit event). Call Bury with the result
// once tx has committed, so that every instance refuses the skeys at once.
func (m *Manager) RevokeUserTx(ctx context.Context, tx *ent.Tx, userID int) (Revoked, error) {
	return m.store.in(tx).RevokeUser(ctx, userID, m.now())
}

// EraseUserTx ends every live session of a user inside tx and clears the
// client IP and user agent of all of them: the sessions part of erasing a
// user. The rows stay, revoked, until the purge deletes them an hour
// later, so that the revocation feed tells every instance. Call Bury once
// tx has committed.
func (m *Manager) EraseUserTx(ctx context.Context, tx *ent.Tx, userID int) (Revoked, error) {
	st := m.store.in(tx)
	rev, err := st.RevokeUser(ctx, userID, m.now())
	if err != nil {
		return Revoked{}, err
	}
	return rev, st.ForgetClients(ctx, userID)
}

// RevokeSessionTx revokes the session id of userID (and every skey of its
// login) inside tx; a session of another user, or a dead or unknown one,
// revokes nothing (Revoked.N == 0). Call Bury once tx has committed.
func (m *Manager) RevokeSessionTx(ctx context.Context, tx *ent.Tx, userID, id int) (Revoked, error) {
	return m.store.in(tx).RevokeSession(ctx, userID, id, m.now())
}

// Bury tells the cache about sessions a committed transaction revoked
// (RevokeUserTx, RevokeSessionTx): tombstones here, and the revocation
// feed on every other instance.
func (m *Manager) Bury(ctx context.Context, rev Revoked) { m.buryRevoked(ctx, rev) }

// buryRevoked buries the cache entries of what a revocation ended.
func (m *Manager) buryRevoked(ctx context.Context, rev Revoked) {
	if len(rev.Hashes) > 0 {
		m.bury(ctx, rev.Hashes, rev.Until)
	}
	m.metrics.revoked.Add(float64(rev.N))
}

// Active lists a user's live sessions, newest first: not revoked, not
// expired and not rotated.
func (m *Manager) Active(ctx context.Context, userID int) ([]*ent.Session, error) {
	return m.store.Active(ctx, userID, m.now())
}

// ActiveOf returns the sessions that still work of each of the users,
// newest first, read in one statement: the admin API's activeSessions of a
// page of users.
func (m *Manager) ActiveOf(ctx context.Context, userIDs []int) (map[int][]*ent.Session, error) {
	return m.store.ActiveOf(ctx, userIDs, m.now())
}

// OfUserTx lists every stored session of a user inside tx, live or not,
// oldest first: what an export of the user's data shows.
func (m *Manager) OfUserTx(ctx context.Context, tx *ent.Tx, userID int) ([]*ent.Session, error) {
	return m.store.in(tx).OfUser(ctx, userID)
}

// Sessions returns the sessions with the row IDs ids that exist, in no
// particular order, live or not: the admin API's nodes.
func (m *Manager) Sessions(ctx context.Context, ids []int) ([]*ent.Session, error) {
	return m.store.List(ctx, ids)
}

// Run does the background work until ctx ends: every FeedInterval it
// retries cache invalidations that failed and polls the revocation feed;
// it purges dead sessions every purgeEvery (never when zero).
func (m *Manager) Run(ctx context.Context, purgeEvery time.Duration) {
	retry := time.NewTicker(FeedInterval)
	defer retry.Stop()
	var purge <-chan time.Time
	if purgeEvery > 0 {
		t := time.NewTicker(purgeEvery)
		defer t.Stop()
		purge = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			m.retryInvalidations(ctx)
			if err := m.PollRevocations(ctx); err != nil && ctx.Err() == nil {
				m.log.WarnContext(ctx, "revocation feed: database unreachable; revocations by other instances may arrive late", "err", err)
			}
		case <-purge:
			switch n, err := m.Purge(ctx); {
			case err != nil && ctx.Err() != nil:
				// Shutting down: the next pass, on any instance, goes on.
			case err != nil:
				m.log.ErrorContext(ctx, "purging sessions", "err", err)
			case n > 0:
				m.log.InfoContext(ctx, "purged dead sessions", "count", n)
			}
		}
	}
}

// retryInvalidations writes the tombstones that failed earlier.
func (m *Manager) retryInvalidations(ctx context.Context) {
	now := m.now()
	for hash, until := range m.pending.snapshot() {
		if !until.After(now) {
			m.pending.remove(hash)
			continue
		}
		key := CacheKey(hash)
		if err := m.cache.Set(ctx, key, m.keys.tombstone(key), until.Sub(now)); err != nil {
			return // still unreachable; try again on the next tick
		}
		m.pending.remove(hash)
	}
}
