package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/predicate"
	entsession "github.com/wxid/wxid/ent/session"
)

// Refresh rotates an skey: it returns a new skey with a fresh idle expiry,
// capped by the login's absolute expiry, and leaves the old one working for
// the grace window. Refreshing an skey that was already rotated (a
// concurrent or repeated call within the grace window) returns the same
// successor, so one login never forks into two.
func (m *Manager) Refresh(ctx context.Context, skey string, meta ClientMeta) (string, Info, error) {
	if !m.keys.Verify(skey) {
		return "", Info{}, ErrInvalid
	}
	hash := Hash(skey)
	var (
		newSkey  string
		newInfo  Info
		oldInfo  Info
		newEntry bool
	)
	err := withTx(ctx, m.db, m.opts.RowLocks, func(tx *ent.Tx) error {
		now := m.now()
		q := tx.Session.Query().Where(entsession.TokenHash(hash)).WithOpenID()
		if m.opts.RowLocks {
			q = q.ForUpdate()
		}
		row, err := q.Only(ctx)
		if ent.IsNotFound(err) {
			return ErrInvalid
		}
		if err != nil {
			return fmt.Errorf("reading session: %w", err)
		}
		if row.RevokedAt != nil || !now.Before(row.ExpiresAt) {
			return ErrInvalid
		}
		if row.RotatedAt != nil {
			// Already rotated within the grace window: hand out the same
			// successor.
			plain, err := m.sealer.Open(row.SuccessorToken, []byte(hash))
			if err != nil {
				return fmt.Errorf("opening successor skey: %w", err)
			}
			succ, err := tx.Session.Query().
				Where(entsession.TokenHash(Hash(string(plain)))).
				WithOpenID().
				Only(ctx)
			if err != nil {
				return fmt.Errorf("reading successor session: %w", err)
			}
			if succ.RevokedAt != nil || !now.Before(succ.ExpiresAt) {
				return ErrInvalid
			}
			newSkey, newInfo = string(plain), infoOf(succ, succ.Edges.OpenID)
			return nil
		}
		if !now.Before(row.AbsoluteExpiresAt) {
			return ErrInvalid
		}
		newSkey, err = m.keys.NewToken()
		if err != nil {
			return err
		}
		succ, err := tx.Session.Create().
			SetUserID(row.UserID).
			SetOpenIDID(row.OpenIDID).
			SetTokenHash(Hash(newSkey)).
			SetFamily(row.Family).
			SetCreatedAt(now).
			SetExpiresAt(minTime(now.Add(m.opts.TTL), row.AbsoluteExpiresAt)).
			SetAbsoluteExpiresAt(row.AbsoluteExpiresAt).
			SetLastRefreshedAt(now).
			SetClientIP(truncate(meta.IP, 64)).
			SetUserAgent(truncate(meta.UserAgent, 512)).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("creating rotated session: %w", err)
		}
		old, err := tx.Session.UpdateOne(row).
			SetRotatedAt(now).
			SetExpiresAt(minTime(row.ExpiresAt, now.Add(m.opts.Grace))).
			SetSuccessorToken(m.sealer.Seal([]byte(newSkey), []byte(hash))).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("rotating session: %w", err)
		}
		newInfo, oldInfo, newEntry = infoOf(succ, row.Edges.OpenID), infoOf(old, row.Edges.OpenID), true
		return nil
	})
	if err != nil {
		return "", Info{}, err
	}
	if newEntry {
		_ = m.store(ctx, Hash(newSkey), newInfo, false)
		// The old skey's entry must shrink to the grace window. If the
		// cache cannot take that, bury it instead: losing the grace is
		// better than an entry that outlives it.
		if !oldInfo.ExpiresAt.After(m.now()) || m.store(ctx, hash, oldInfo, false) != nil {
			m.bury(ctx, []string{hash}, oldInfo.AbsoluteExpiresAt)
		}
		m.metrics.refreshed.Inc()
	}
	return newSkey, newInfo, nil
}

// Revoke ends the login an skey belongs to: the skey itself and every skey
// rotated from or into it. It returns ErrInvalid when the skey is not live.
func (m *Manager) Revoke(ctx context.Context, skey string) error {
	info, err := m.Resolve(ctx, skey)
	if err != nil {
		return err
	}
	row, err := m.db.Session.Get(ctx, info.ID)
	if err != nil {
		return fmt.Errorf("reading session: %w", err)
	}
	n, err := m.revokeWhere(ctx, entsession.Family(row.Family))
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrInvalid
	}
	return nil
}

// RevokeUser ends every live session of a user and returns how many it
// ended.
func (m *Manager) RevokeUser(ctx context.Context, userID int) (int, error) {
	return m.revokeWhere(ctx, entsession.UserID(userID))
}

// revokeWhere marks the live sessions matching p revoked in the database,
// then buries their cache entries.
func (m *Manager) revokeWhere(ctx context.Context, p predicate.Session) (int, error) {
	now := m.now()
	rows, err := m.db.Session.Query().
		Where(p, entsession.RevokedAtIsNil(), entsession.ExpiresAtGT(now)).
		Select(entsession.FieldID, entsession.FieldTokenHash, entsession.FieldAbsoluteExpiresAt).
		All(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing sessions to revoke: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	ids := make([]int, len(rows))
	hashes := make([]string, len(rows))
	until := now
	for i, r := range rows {
		ids[i], hashes[i] = r.ID, r.TokenHash
		if r.AbsoluteExpiresAt.After(until) {
			until = r.AbsoluteExpiresAt
		}
	}
	n, err := m.db.Session.Update().
		Where(entsession.IDIn(ids...), entsession.RevokedAtIsNil()).
		SetRevokedAt(now).
		Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", err)
	}
	m.bury(ctx, hashes, until)
	m.metrics.revoked.Add(float64(n))
	return n, nil
}

// Active lists a user's live sessions, newest first: not revoked, not
// expired and not rotated.
func (m *Manager) Active(ctx context.Context, userID int) ([]*ent.Session, error) {
	rows, err := m.db.Session.Query().
		Where(
			entsession.UserID(userID),
			entsession.RevokedAtIsNil(),
			entsession.RotatedAtIsNil(),
			entsession.ExpiresAtGT(m.now()),
		).
		Order(ent.Desc(entsession.FieldCreatedAt), ent.Desc(entsession.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	return rows, nil
}

// purgeBatch bounds one delete of dead sessions.
const purgeBatch = 500

// Purge deletes sessions that expired or were revoked more than an hour
// ago, in batches of purgeBatch rows, and returns how many it deleted.
func (m *Manager) Purge(ctx context.Context) (int, error) {
	cutoff := m.now().Add(-time.Hour)
	total := 0
	for {
		ids, err := m.db.Session.Query().
			Where(entsession.Or(entsession.ExpiresAtLT(cutoff), entsession.RevokedAtLT(cutoff))).
			Limit(purgeBatch).
			IDs(ctx)
		if err != nil {
			return total, fmt.Errorf("listing dead sessions: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := m.db.Session.Delete().Where(entsession.IDIn(ids...)).Exec(ctx)
		if err != nil {
			return total, fmt.Errorf("purging sessions: %w", err)
		}
		total += n
		m.metrics.purged.Add(float64(n))
		if len(ids) < purgeBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
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
			if n, err := m.Purge(ctx); err != nil {
				m.log.ErrorContext(ctx, "purging sessions", "err", err)
			} else if n > 0 {
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

// withTx runs fn in a transaction, rolling back on error or panic. With
// rowLocks (MySQL) the transaction reads committed data: its locking reads
// lock the rows they find and no gaps, so a refresh's lock on its session
// row cannot block a login's INSERT of a new session into the same index
// (the deadlock a crowd of logins and refreshes otherwise finds).
func withTx(ctx context.Context, db *ent.Client, rowLocks bool, fn func(tx *ent.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, TxOptions(rowLocks))
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("rolling back: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// TxOptions are the options of wxid's writing transactions: READ
// COMMITTED where rows are locked (MySQL), the driver's default elsewhere.
func TxOptions(rowLocks bool) *sql.TxOptions {
	if !rowLocks {
		return nil
	}
	return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
}
