package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/internal/testenv"
	"github.com/wxid/wxid/stats"
)

// The daily user statistics (userStats): logins and phone verifications
// counted per calendar day in WXID_STATS_TIMEZONE, folded by the rollup.

const userStatsQuery = `query($from: Time!, $to: Time!, $appId: String) {
  userStats(from: $from, to: $to, appId: $appId) { date signups activeUsers phoneVerified }
}`

// shanghai is the default WXID_STATS_TIMEZONE.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// userStats returns the days of userStats as "date signups/active/phones".
func userStats(t *testing.T, e *apptest.Env, from, to time.Time, appID string) []string {
	t.Helper()
	vars := map[string]any{"from": from, "to": to}
	if appID != "" {
		vars["appId"] = appID
	}
	var out struct {
		UserStats []struct {
			Date                                string
			Signups, ActiveUsers, PhoneVerified int
		}
	}
	apptest.Must(t, e.Do(t, apptest.AdminToken, userStatsQuery, vars)).Decode(t, &out)
	days := make([]string, len(out.UserStats))
	for i, d := range out.UserStats {
		days[i] = fmt.Sprintf("%s %d/%d/%d", d.Date, d.Signups, d.ActiveUsers, d.PhoneVerified)
	}
	return days
}

// rollup folds every event older than now into the statistics.
func rollup(t *testing.T, e *apptest.Env) int {
	t.Helper()
	e.Clock.Advance(stats.Lag)
	n, err := e.App.Stats.Rollup(context.Background())
	require.NoError(t, err)
	return n
}

// advanceTo moves the clock forward to at.
func advanceTo(t *testing.T, c *apptest.Clock, at time.Time) {
	t.Helper()
	require.True(t, at.After(c.Now()), "the clock only moves forward")
	c.Advance(at.Sub(c.Now()))
}

// tomorrow is the start of the calendar day after now's in loc.
func tomorrow(now time.Time, loc *time.Location) time.Time {
	return stats.DayStart(now, loc).AddDate(0, 0, 1)
}

func verifyPhone(t *testing.T, e *apptest.Env, skey, appID, user, number string) {
	t.Helper()
	code := e.WeChat.PhoneCode(appID, user, number, "86")
	apptest.Must(t, e.Do(t, skey, `mutation($c: String) { decryptPhoneNumber(input: {code: $c}) { phoneNumber } }`, map[string]any{"c": code}))
}

func TestUserStats(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Env: map[string]string{"WXID_AUDIT_RETENTION": "2d"}})
		day := tomorrow(e.Clock.Now(), shanghai)
		date := func(i int) string { return day.AddDate(0, 0, i).Format(time.DateOnly) }

		// Day 0, late evening in Shanghai (afternoon in UTC).
		advanceTo(t, e.Clock, day.Add(23*time.Hour+30*time.Minute))
		alice := e.Login(t, apptest.AppID, "alice")
		e.Clock.Advance(5 * time.Minute)
		e.Login(t, apptest.AppID, "alice") // the same day: counted once
		e.Login(t, apptest.AppID2, "bob")
		verifyPhone(t, e, alice.Skey, apptest.AppID, "alice", "+8613900139000")
		// Day 1, just after midnight in Shanghai: the same UTC day.
		advanceTo(t, e.Clock, day.AddDate(0, 0, 1).Add(10*time.Minute))
		e.Login(t, apptest.AppID, "alice")
		e.Login(t, apptest.AppID2, "alice") // first in app 2: a known person, no signup
		e.Login(t, apptest.AppID2, "alice")
		e.Login(t, apptest.AppID2, "bob")

		from, to := day.AddDate(0, 0, -1), day.AddDate(0, 0, 3)
		empty := []string{date(-1) + " 0/0/0", date(0) + " 0/0/0", date(1) + " 0/0/0", date(2) + " 0/0/0"}
		require.Equal(t, empty, userStats(t, e, from, to, ""), "nothing is folded before the rollup")

		require.Equal(t, 8, rollup(t, e), "7 logins and 1 phone verification")
		all := []string{date(-1) + " 0/0/0", date(0) + " 2/2/1", date(1) + " 0/2/0", date(2) + " 0/0/0"}
		app1 := []string{date(-1) + " 0/0/0", date(0) + " 1/1/1", date(1) + " 0/1/0", date(2) + " 0/0/0"}
		app2 := []string{date(-1) + " 0/0/0", date(0) + " 1/1/0", date(1) + " 0/2/0", date(2) + " 0/0/0"}
		check := func(why string) {
			t.Helper()
			require.Equal(t, all, userStats(t, e, from, to, ""), why)
			require.Equal(t, app1, userStats(t, e, from, to, apptest.AppID), why)
			require.Equal(t, app2, userStats(t, e, from, to, apptest.AppID2), why)
			require.Equal(t, []string{date(-1) + " 0/0/0", date(0) + " 0/0/0"}, userStats(t, e, from, day.Add(time.Hour), "wx-no-such-app"), why)
		}
		check("after the rollup")
		require.Zero(t, rollup(t, e), "a second pass folds nothing again")
		check("after a second pass")

		// A range that ends inside a day includes it; one that ends at a
		// midnight does not include the day after.
		require.Equal(t, all[1:2], userStats(t, e, day.Add(time.Hour), day.Add(2*time.Hour), ""))
		require.Equal(t, all[1:3], userStats(t, e, day, day.AddDate(0, 0, 2), ""))

		// Erasing a user and purging old audit events keep the figures.
		apptest.Must(t, e.Do(t, apptest.AdminToken, `mutation($id: ID!) { eraseUser(id: $id) }`, map[string]any{"id": alice.User.ID}))
		e.Clock.Advance(72 * time.Hour)
		purged, err := e.App.Audit.Purge(context.Background())
		require.NoError(t, err)
		require.GreaterOrEqual(t, purged, 8, "the day 0 and day 1 events are past the retention")
		rollup(t, e)
		check("after an erasure and the retention purge")
	})
}

func TestUserStatsInput(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		user := e.Login(t, "", "carol")
		now := e.Clock.Now()
		week := map[string]any{"from": now.Add(-7 * 24 * time.Hour), "to": now}
		for _, tc := range []struct {
			name, token string
			vars        map[string]any
			code, msg   string
		}{
			{"no token", "", week, "FORBIDDEN", ""},
			{"a user's skey", user.Skey, week, "FORBIDDEN", ""},
			{"to equals from", apptest.AdminToken, map[string]any{"from": now, "to": now}, "BAD_USER_INPUT", "to must be after from"},
			{"to before from", apptest.AdminToken, map[string]any{"from": now, "to": now.Add(-time.Hour)}, "BAD_USER_INPUT", "to must be after from"},
			{"367 days", apptest.AdminToken, map[string]any{"from": now.AddDate(0, 0, -367), "to": now}, "BAD_USER_INPUT", "at most 366 days"},
			{"empty appId", apptest.AdminToken, map[string]any{"from": now.Add(-time.Hour), "to": now, "appId": ""}, "BAD_USER_INPUT", "leave it out"},
			{"not a time", apptest.AdminToken, map[string]any{"from": "yesterday", "to": now}, "BAD_USER_INPUT", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.Do(t, tc.token, userStatsQuery, tc.vars)
				require.Equal(t, tc.code, r.Code(), "%s", r.Body)
				if tc.msg != "" {
					require.Contains(t, string(r.Body), tc.msg)
				}
			})
		}
		// 366 days, the most, are answered, zeros included.
		from := stats.DayStart(now, shanghai).AddDate(0, 0, -365)
		days := userStats(t, e, from, now, "")
		require.Len(t, days, 366)
		require.True(t, strings.HasSuffix(days[0], " 0/0/0"))
	})
}

// TestUserStatsCrowd: concurrent logins of one person count once a day,
// whether the crowd creates the user, is its first login of a day, or
// spreads over two apps.
func TestUserStatsCrowd(t *testing.T) {
	if testing.Short() {
		t.Skip("crowd test")
	}
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	crowd := func(apps ...string) {
		const n = 24
		codes := make([]string, n)
		for i := range codes {
			codes[i] = e.Code(t, apps[i%len(apps)], "zed")
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]*apptest.Response, n)
		for i := range codes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				results[i] = e.Do(t, "", apptest.LoginMutation, map[string]any{"code": codes[i], "appId": apps[i%len(apps)]})
			}(i)
		}
		close(start)
		wg.Wait()
		for _, r := range results {
			apptest.Must(t, r)
		}
	}
	day := tomorrow(e.Clock.Now(), shanghai)
	date := func(i int) string { return day.AddDate(0, 0, i).Format(time.DateOnly) }
	advanceTo(t, e.Clock, day.Add(10*time.Hour))
	crowd(apptest.AppID) // creates zed
	advanceTo(t, e.Clock, day.AddDate(0, 0, 1).Add(10*time.Hour))
	crowd(apptest.AppID, apptest.AppID2) // zed's first login of the day, and first ever in app 2
	advanceTo(t, e.Clock, day.AddDate(0, 0, 2).Add(10*time.Hour))
	crowd(apptest.AppID)
	require.Equal(t, 72, rollup(t, e))
	to := day.AddDate(0, 0, 3)
	require.Equal(t, []string{date(0) + " 1/1/0", date(1) + " 0/1/0", date(2) + " 0/1/0"}, userStats(t, e, day, to, ""))
	require.Equal(t, []string{date(0) + " 1/1/0", date(1) + " 0/1/0", date(2) + " 0/1/0"}, userStats(t, e, day, to, apptest.AppID))
	require.Equal(t, []string{date(0) + " 0/0/0", date(1) + " 0/1/0", date(2) + " 0/0/0"}, userStats(t, e, day, to, apptest.AppID2))
}

// TestUserStatsRollupInstances: instances that fold at the same time,
// sharing the lease (one memcached) or not (each its own cache), never
// fold an event twice.
func TestUserStatsRollupInstances(t *testing.T) {
	mc := testenv.StartMemcached(t)
	a := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcache: mc})
	b := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcache: mc, DatabaseURL: a.DatabaseURL, WeChat: a.WeChat, Clock: a.Clock})
	c := apptest.New(t, apptest.Options{Backend: apptest.MySQL, DatabaseURL: a.DatabaseURL, WeChat: a.WeChat, Clock: a.Clock})
	day := tomorrow(a.Clock.Now(), shanghai)
	advanceTo(t, a.Clock, day.Add(12*time.Hour))
	const users = 40
	for round := range 3 {
		for i := range users {
			a.Login(t, "", fmt.Sprintf("user%d", i))
		}
		a.Clock.Advance(stats.Lag)
		var wg sync.WaitGroup
		folded := make(chan int, 12)
		for _, e := range []*apptest.Env{a, b, c, a, b, c} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := e.App.Stats.Rollup(context.Background())
				require.NoError(t, err)
				folded <- n
			}()
		}
		wg.Wait()
		close(folded)
		total := 0
		for n := range folded {
			total += n
		}
		require.Equal(t, users, total, "round %d: each login is folded by exactly one pass", round)
	}
	require.Equal(t, []string{day.Format(time.DateOnly) + " 40/40/0"}, userStats(t, b, day, day.Add(time.Hour), ""))
}
