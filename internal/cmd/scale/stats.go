package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// The daily user statistics (userStats): -stats-days of LOGIN and
// PHONE_VERIFIED audit events for the synthetic users, folded by wxid's own
// rollup, then userStats over the whole range with and without appId.

// statsOptions shape the synthetic audit trail.
type statsOptions struct {
	// days of events, ending yesterday.
	days int
	// active is the fraction of users who log in on a day; one in four of
	// them logs in a second time.
	active float64
}

// statsEvents is the audit_events column list of the synthetic events.
const statsEvents = "audit_events (kind, at, user_id, actor, new_user, app_id, first_of_day, first_in_app_of_day)"

// loadStats inserts the events: every user's signup (and phone
// verification) within the range, and each day's logins.
func loadStats(ctx context.Context, db *sql.DB, o loadOptions) (int, error) {
	n, days := o.users, o.stats.days
	if days <= 0 {
		return 0, nil
	}
	start := now.Add(-time.Duration(days) * 24 * time.Hour)
	signups := 0
	err := insert(ctx, db, o.batch, statsEvents, 2*n, func(k int, b *strings.Builder) bool {
		i, phone := k/2, k%2 == 1
		c := createdAt(i, n)
		if phone {
			c = c.Add(time.Hour)
		}
		// Events younger than the rollup's lag would hold it up.
		if c.Before(start) || c.After(now.Add(-10*time.Minute)) || (phone && !every(i, o.phones)) {
			return false
		}
		signups++
		if phone {
			fmt.Fprintf(b, "('PHONE_VERIFIED',%s,%d,'user:%d',0,'%s',0,0)", ts(c), userID(i), userID(i), appID(i%o.apps))
		} else {
			fmt.Fprintf(b, "('LOGIN',%s,%d,'user:%d',1,'%s',1,1)", ts(c), userID(i), userID(i), appID(i%o.apps))
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	logins := 0
	err = insert(ctx, db, o.batch, statsEvents, days*n*2, func(k int, b *strings.Builder) bool {
		d, i, again := k/(2*n), (k/2)%n, k%2 == 1
		if !every((i+d*7919)%n, o.stats.active) || (again && i%4 != 0) {
			return false
		}
		at := start.Add(time.Duration(d)*24*time.Hour + time.Duration(i%80000)*time.Second)
		first := 1
		if again {
			at, first = at.Add(time.Hour), 0
		}
		logins++
		fmt.Fprintf(b, "('LOGIN',%s,%d,'user:%d',0,'%s',%d,%d)", ts(at), userID(i), userID(i), appID(i%o.apps), first, first)
		return true
	})
	return signups + logins, err
}

// awaitRollup waits until wxid's rollup has folded every event and prints
// how long it took.
func awaitRollup(ctx context.Context, db *sql.DB, events int, began time.Time) error {
	if events == 0 {
		return nil
	}
	var last int64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM audit_events").Scan(&last); err != nil {
		return fmt.Errorf("reading the last audit event: %w", err)
	}
	deadline := time.Now().Add(30 * time.Minute)
	for {
		var at sql.NullInt64
		err := db.QueryRowContext(ctx, "SELECT MAX(event_id) FROM rollup_cursors").Scan(&at)
		if err != nil {
			return fmt.Errorf("reading the rollup cursor: %w", err)
		}
		if at.Int64 >= last {
			took := time.Since(began)
			fmt.Printf("  rollup: %d audit events folded into daily_user_stats %s after the first was loaded (%.0f events/s, loading included)\n",
				events, took.Round(time.Second), float64(events)/took.Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the rollup folded up to event %d of %d in 30 minutes", at.Int64, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// statsShapes are the userStats shapes: the whole loaded range (at most
// 366 days), for all apps and for one.
func statsShapes(o loadOptions) []shape {
	days := min(max(o.stats.days, 1), 366)
	from := now.Add(-time.Duration(days-1) * 24 * time.Hour).Format(time.RFC3339)
	to := now.Format(time.RFC3339)
	q := `query($f:Time!,$t:Time!,$a:String){ userStats(from:$f, to:$t, appId:$a){ date signups activeUsers phoneVerified } }`
	name := fmt.Sprintf("userStats %d days", days)
	return []shape{
		{name, q, map[string]any{"f": from, "t": to}},
		{name + ", one app", q, map[string]any{"f": from, "t": to, "a": appID(0)}},
	}
}
