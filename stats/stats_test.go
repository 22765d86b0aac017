package stats_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/stats"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := stats.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func dates(days []*stats.Daily) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = d.Date
	}
	return out
}

func TestDailyRange(t *testing.T) {
	db := testenv.OpenDatabase(t, testenv.SQLite(t))
	ny := zone(t, "America/New_York")
	s := stats.NewService(db.Client, cache.NewMemory(10), stats.Options{Location: ny})
	at := func(v string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", v, ny)
		require.NoError(t, err)
		return tm
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []string
		bad      string
	}{
		{"midnight to midnight", at("2026-03-07 00:00"), at("2026-03-10 00:00"), []string{"2026-03-07", "2026-03-08", "2026-03-09"}, ""},
		{"across the spring DST change, ending inside a day", at("2026-03-07 12:00"), at("2026-03-09 00:01"), []string{"2026-03-07", "2026-03-08", "2026-03-09"}, ""},
		{"across the autumn DST change", at("2026-10-31 00:00"), at("2026-11-03 00:00"), []string{"2026-10-31", "2026-11-01", "2026-11-02"}, ""},
		{"in UTC, as a client may pass it", at("2026-03-07 00:00").UTC(), at("2026-03-07 00:00").UTC().Add(time.Hour), []string{"2026-03-07"}, ""},
		{"366 days", at("2027-01-01 00:00"), at("2028-01-01 00:00").AddDate(0, 0, 1), nil, ""},
		{"367 days", at("2027-01-01 00:00"), at("2028-01-01 00:00").AddDate(0, 0, 2), nil, "more than 366 days"},
		{"empty range", at("2026-03-07 00:00"), at("2026-03-07 00:00"), nil, "to must be after from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			days, err := s.Daily(context.Background(), stats.Range{From: tc.from, To: tc.to})
			if tc.bad != "" {
				require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
				require.ErrorContains(t, err, tc.bad)
				return
			}
			require.NoError(t, err)
			if tc.want == nil {
				require.Len(t, days, 366)
				return
			}
			require.Equal(t, tc.want, dates(days))
		})
	}
}

// TestRollup folds events recorded straight into the audit trail: only
// those Lag old, each once, whichever instance folds, and per app and in
// total.
func TestRollup(t *testing.T) {
	for _, backend := range []string{"sqlite", "mysql"} {
		t.Run(backend, func(t *testing.T) {
			url := testenv.SQLite(t)
			if backend == "mysql" {
				url = testenv.MySQL(t)
			}
			db := testenv.OpenDatabase(t, url)
			utc := zone(t, "UTC")
			clk := clock.NewFake(time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC))
			// Two instances with caches of their own: no shared lease.
			a := stats.NewService(db.Client, cache.NewMemory(10), stats.Options{Location: utc, Now: clk.Now})
			b := stats.NewService(db.Client, cache.NewMemory(10), stats.Options{Location: utc, Now: clk.Now})
			record := func(e audit.Event) {
				t.Helper()
				e.At = clk.Now()
				require.NoError(t, database.WithTx(context.Background(), db.Client, nil, func(tx *ent.Tx) error { return audit.Record(context.Background(), tx, e) }))
			}
			record(audit.Event{Kind: audit.Login, UserID: 1, AppID: "wxa", NewUser: true, FirstOfDay: true, FirstInAppOfDay: true})
			record(audit.Event{Kind: audit.Login, UserID: 1, AppID: "wxa"})
			record(audit.Event{Kind: audit.Login, UserID: 1, AppID: "wxb", FirstInAppOfDay: true})
			record(audit.Event{Kind: audit.PhoneVerified, UserID: 1, AppID: "wxb"})
			record(audit.Event{Kind: audit.Logout, UserID: 1})
			clk.Advance(stats.Lag / 2)
			n, err := a.Rollup(context.Background())
			require.NoError(t, err)
			require.Zero(t, n, "nothing is Lag old yet")
			clk.Advance(stats.Lag)
			record(audit.Event{Kind: audit.Login, UserID: 2, AppID: "wxb", NewUser: true, FirstOfDay: true, FirstInAppOfDay: true})
			n, err = a.Rollup(context.Background())
			require.NoError(t, err)
			require.Equal(t, 4, n, "the LOGIN and PHONE_VERIFIED events that are Lag old")
			n, err = b.Rollup(context.Background())
			require.NoError(t, err)
			require.Zero(t, n, "another instance finds them folded")
			clk.Advance(stats.Lag)
			n, err = b.Rollup(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, n)

			day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			get := func(app *string) []stats.Daily {
				days, err := a.Daily(context.Background(), stats.Range{From: day, To: day.AddDate(0, 0, 2), AppID: app})
				require.NoError(t, err)
				out := make([]stats.Daily, len(days))
				for i, d := range days {
					out[i] = *d
				}
				return out
			}
			wxa, wxb := "wxa", "wxb"
			// User 2 signed up in wxb at 00:00:30 on May 2.
			require.Equal(t, []stats.Daily{{Date: "2026-05-01", Signups: 1, ActiveUsers: 1, PhoneVerified: 1}, {Date: "2026-05-02", Signups: 1, ActiveUsers: 1}}, get(nil))
			require.Equal(t, []stats.Daily{{Date: "2026-05-01", Signups: 1, ActiveUsers: 1}, {Date: "2026-05-02"}}, get(&wxa))
			require.Equal(t, []stats.Daily{{Date: "2026-05-01", ActiveUsers: 1, PhoneVerified: 1}, {Date: "2026-05-02", Signups: 1, ActiveUsers: 1}}, get(&wxb))
		})
	}
}
