// Package stats keeps and answers the daily user statistics: per calendar
// day (in WXID_STATS_TIMEZONE), and per mini-program or for all of them,
// how many users signed up, how many logged in, and how many phone
// numbers were verified.
//
// # Counted as events happen, folded in the background
//
// Nothing scans users. A login already reads the user and its app
// account before it writes them, so it knows whether it is the user's
// first login of the day, and the account's first in the app; it decides
// that under the rows' locks (identity.Service) and records it on its
// LOGIN audit event, with the appid. PHONE_VERIFIED events carry the appid
// too. So every figure is a plain count of audit events:
//
//   - signups: LOGIN events that created their user (in an app: created
//     by a login in it);
//   - activeUsers: LOGIN events that were the user's first of the day
//     (in an app: the first through the user's account in that app);
//   - phoneVerified: PHONE_VERIFIED events (every successful
//     decryptPhoneNumber; a user who verifies twice counts twice).
//
// Rollup folds the events, in the order of their IDs, into the small
// daily_user_stats table, one row per (day, app) and one per day for all
// apps (app_id ""), and remembers the last event folded in
// rollup_cursors. userStats reads only that table: at most 366 rows by
// its unique index, whatever the number of users.
//
// An event is folded once it is Lag old. A transaction that records an
// event ends within the request's deadline (15 s), so by then every event
// with a smaller ID has committed too and the cursor never passes over
// one that is still being written. The figures of the last minute or two
// thus show after the next pass (WXID_STATS_INTERVAL, 30 s by default).
//
// One instance at a time folds: a pass takes a lease in the cache, as the
// session purge does. When the cache cannot be reached, every instance
// folds, and still no event counts twice: a pass advances the cursor in
// the transaction that adds the figures, and only from the value it read,
// so of two passes over the same events one commits and the other rolls
// back.
//
// The table holds counts only, nothing about a person: erasing a user and
// purging audit events past their retention leave it as it is.
package stats

import (
	"context"
	"log/slog"
	"time"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/ent"
)

// Timing of the rollup.
const (
	// Lag is how old an event must be before it is folded: twice the
	// request deadline, and a margin for the instances' clocks.
	Lag = time.Minute
	// batch bounds the events one transaction folds.
	batch = 2000
	// leaseKey is the cache key of the lease that lets one instance at a
	// time fold.
	leaseKey = "wxid:stats-rollup-lease"
	// lease is how long the lease lasts; a pass stops before it runs out.
	lease = time.Minute
)

// MaxDays is the longest range userStats answers, a leap year.
const MaxDays = 366

// Service keeps and answers the daily user statistics.
type Service struct {
	db    *ent.Client
	cache cache.Cache
	loc   *time.Location
	now   func() time.Time
	log   *slog.Logger
}

// Options configure a Service.
type Options struct {
	// Location is the time zone of the calendar days; nil means
	// DefaultTimeZone.
	Location *time.Location
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// NewService returns the statistics over the database; c holds the
// rollup's lease.
func NewService(db *ent.Client, c cache.Cache, o Options) *Service {
	if o.Location == nil {
		o.Location, _ = LoadLocation(DefaultTimeZone)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{db: db, cache: c, loc: o.Location, now: o.Now, log: o.Logger}
}

// Location is the time zone of the calendar days.
func (s *Service) Location() *time.Location { return s.loc }

// Run folds new events every interval until ctx ends (never when interval
// is zero).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Rollup(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "folding audit events into the daily user statistics", "err", err)
			}
		}
	}
}
