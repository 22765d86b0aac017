package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
)

// TestLoginCrowds: 64 logins of one new person at once, then 64 of the
// same, now returning, person, all succeed on MariaDB: one user, isNewUser
// exactly once, not one error. WeChat has accepted each code by the time
// wxid writes, so any failure would cost the user a fresh wx.login().
func TestLoginCrowds(t *testing.T) {
	if testing.Short() {
		t.Skip("crowd test")
	}
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	const n = 64
	// refreshing holds skeys to refresh while a crowd logs in: refreshes
	// lock their session row and then, through foreign keys, the user's.
	var refreshing []string
	crowd := func(user string) []apptest.LoginResult {
		codes := make([]string, n)
		for i := range codes {
			codes[i] = e.Code(t, apptest.AppID, user)
		}
		results := make([]*apptest.Response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range codes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				results[i] = e.Do(t, "", apptest.LoginMutation, map[string]any{"code": codes[i]})
			}(i)
		}
		refreshed := make([]*apptest.Response, len(refreshing))
		for i, skey := range refreshing {
			wg.Add(1)
			go func(i int, skey string) {
				defer wg.Done()
				<-start
				refreshed[i] = e.Do(t, skey, `mutation { refreshSession { skey } }`, nil)
			}(i, skey)
		}
		close(start)
		wg.Wait()
		for _, r := range refreshed {
			apptest.Must(t, r)
		}
		out := make([]apptest.LoginResult, n)
		for i, r := range results {
			require.Empty(t, r.Errors, "login %d of %d failed", i, n)
			var body struct{ Login apptest.LoginResult }
			r.Decode(t, &body)
			out[i] = body.Login
		}
		return out
	}
	check := func(results []apptest.LoginResult, wantNew int) {
		t.Helper()
		newUsers, ids := 0, map[string]bool{}
		for _, l := range results {
			if l.IsNewUser {
				newUsers++
			}
			ids[l.User.ID] = true
			require.Equal(t, l.User.ID, meID(t, e, l.Skey), "every skey works")
		}
		require.Equal(t, wantNew, newUsers, "isNewUser")
		require.Len(t, ids, 1, "one user")
	}
	first := crowd("crowd")
	check(first, 1)
	for _, l := range first[:16] {
		refreshing = append(refreshing, l.Skey)
	}
	e.Clock.Advance(time.Minute) // WeChat allows about 100 code exchanges per user per minute
	check(crowd("crowd"), 0)
	count, err := e.App.DB.Client.User.Query().Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, count)
}
