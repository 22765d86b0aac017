package stats

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/auditevent"
	"github.com/wxid/wxid/ent/dailyuserstats"
	"github.com/wxid/wxid/ent/rollupcursor"
)

// cursorName names the rollup's row in rollup_cursors.
const cursorName = "daily_user_stats"

// errLost rolls back a pass whose events another instance folded first.
var errLost = errors.New("another instance folded these events first")

// Rollup folds the audit events that are at least Lag old and not folded
// yet into daily_user_stats, batch by batch, and returns how many it
// folded. It does nothing while another instance holds the lease.
func (s *Service) Rollup(ctx context.Context) (int, error) {
	owner := make([]byte, 16)
	_, _ = rand.Read(owner)
	switch err := s.cache.Add(ctx, leaseKey, owner, lease); {
	case errors.Is(err, cache.ErrNotStored):
		s.log.DebugContext(ctx, "another instance is folding the daily user statistics")
		return 0, nil
	case err != nil:
		s.log.WarnContext(ctx, "folding the daily user statistics without a lease: the cache is unavailable", "err", err)
	default:
		defer s.release(owner)
	}
	start := s.now()
	total := 0
	for {
		n, more, err := s.fold(ctx)
		total += n
		if err != nil || !more || s.now().Sub(start) > lease/2 {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// release ends this instance's lease, unless it ran out and another
// instance holds it now.
func (s *Service) release(owner []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if v, err := s.cache.Get(ctx, leaseKey); err == nil && bytes.Equal(v, owner) {
		_ = s.cache.Delete(ctx, leaseKey)
	}
}

// fold folds one batch in one transaction: it reads the cursor and the
// events after it, advances the cursor from the value it read (another
// instance that got there first rolls this one back), and adds the
// batch's figures. more reports a full batch.
func (s *Service) fold(ctx context.Context) (n int, more bool, _ error) {
	cutoff := s.now().Add(-Lag).UTC()
	err := database.WithTx(ctx, s.db, nil, func(tx *ent.Tx) error {
		from, err := s.cursor(ctx, tx)
		if err != nil {
			return err
		}
		events, err := tx.AuditEvent.Query().
			Where(auditevent.IDGT(from), auditevent.KindIn(audit.Login, audit.PhoneVerified)).
			Order(ent.Asc(auditevent.FieldID)).
			Limit(batch).
			Select(auditevent.FieldKind, auditevent.FieldAt, auditevent.FieldAppID, auditevent.FieldNewUser,
				auditevent.FieldFirstOfDay, auditevent.FieldFirstInAppOfDay).
			All(ctx)
		if err != nil {
			return fmt.Errorf("reading audit events: %w", err)
		}
		more = len(events) == batch
		for i, e := range events {
			if e.At.After(cutoff) {
				events, more = events[:i], false
				break
			}
		}
		if len(events) == 0 {
			return nil
		}
		moved, err := tx.RollupCursor.Update().
			Where(rollupcursor.Name(cursorName), rollupcursor.EventID(from)).
			SetEventID(events[len(events)-1].ID).
			Save(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("advancing the rollup cursor: %w", err)
		case moved == 0:
			return errLost
		}
		n = len(events)
		return s.add(ctx, tx, s.tally(events))
	})
	if errors.Is(err, errLost) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("folding audit events: %w", err)
	}
	return n, more, nil
}

// cursor returns the ID of the last event folded, creating the cursor at
// 0 when there is none yet.
func (s *Service) cursor(ctx context.Context, tx *ent.Tx) (int, error) {
	c, err := tx.RollupCursor.Query().Where(rollupcursor.Name(cursorName)).Only(ctx)
	switch {
	case err == nil:
		return c.EventID, nil
	case !ent.IsNotFound(err):
		return 0, fmt.Errorf("reading the rollup cursor: %w", err)
	}
	err = tx.RollupCursor.Create().SetName(cursorName).SetEventID(0).
		OnConflictColumns(rollupcursor.FieldName).Ignore().Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("creating the rollup cursor: %w", err)
	}
	return 0, nil
}

// key is one row of daily_user_stats.
type key struct{ day, app string }

// counts are the figures of one row.
type counts struct{ signups, active, phones int }

// tally counts events per day and app, and per day for all apps.
func (s *Service) tally(events []*ent.AuditEvent) map[key]*counts {
	out := map[key]*counts{}
	bump := func(k key, f func(*counts)) {
		c := out[k]
		if c == nil {
			c = &counts{}
			out[k] = c
		}
		f(c)
	}
	for _, e := range events {
		day, app := Day(e.At, s.loc), ""
		if e.AppID != nil {
			app = *e.AppID
		}
		all, inApp := key{day, ""}, key{day, app}
		switch e.Kind {
		case audit.PhoneVerified:
			bump(all, func(c *counts) { c.phones++ })
			if app != "" {
				bump(inApp, func(c *counts) { c.phones++ })
			}
		case audit.Login:
			bump(all, func(c *counts) { c.signups += b2i(e.NewUser); c.active += b2i(e.FirstOfDay) })
			if app != "" {
				bump(inApp, func(c *counts) { c.signups += b2i(e.NewUser); c.active += b2i(e.FirstInAppOfDay) })
			}
		}
	}
	return out
}

// add adds the tallies to their rows, creating missing rows, in one
// statement.
func (s *Service) add(ctx context.Context, tx *ent.Tx, t map[key]*counts) error {
	rows := make([]*ent.DailyUserStatsCreate, 0, len(t))
	for k, c := range t {
		rows = append(rows, tx.DailyUserStats.Create().SetDay(k.day).SetAppID(k.app).
			SetSignups(c.signups).SetActiveUsers(c.active).SetPhoneVerified(c.phones))
	}
	err := tx.DailyUserStats.CreateBulk(rows...).
		OnConflict(sql.ConflictColumns(dailyuserstats.FieldAppID, dailyuserstats.FieldDay), sql.ResolveWith(func(u *sql.UpdateSet) {
			for _, col := range []string{dailyuserstats.FieldSignups, dailyuserstats.FieldActiveUsers, dailyuserstats.FieldPhoneVerified} {
				u.Set(col, increment(u, col))
			}
		})).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("adding to the daily user statistics: %w", err)
	}
	return nil
}

// increment is col plus the value the conflicting INSERT carried.
func increment(u *sql.UpdateSet, col string) sql.Querier {
	return sql.ExprFunc(func(b *sql.Builder) {
		b.WriteString(u.Table().C(col)).WriteString(" + ")
		if b.Dialect() == dialect.MySQL {
			b.WriteString("VALUES(").Ident(col).WriteByte(')')
			return
		}
		b.WriteString(sql.Dialect(b.Dialect()).Table("excluded").C(col))
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
