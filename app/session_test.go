package app_test

import (
	"context"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	entsession "github.com/wxid/wxid/ent/session"
	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/session"
)

const (
	refreshMutation = `mutation { refreshSession { skey expiresAt } }`
	logoutMutation  = `mutation { logout }`
)

type refreshed struct {
	Skey      string
	ExpiresAt time.Time
}

func refresh(t *testing.T, e *apptest.Env, skey string) refreshed {
	t.Helper()
	var out struct{ RefreshSession refreshed }
	e.Do(t, skey, refreshMutation, nil).Decode(t, &out)
	return out.RefreshSession
}

func requireUnauthenticated(t *testing.T, e *apptest.Env, skey string) {
	t.Helper()
	r := e.Do(t, skey, `{ me { id } }`, nil)
	require.Equal(t, "UNAUTHENTICATED", r.Code(), r.Body)
}

func requireMe(t *testing.T, e *apptest.Env, skey, userID string) {
	t.Helper()
	var out struct{ Me struct{ ID string } }
	e.Do(t, skey, `{ me { id } }`, nil).Decode(t, &out)
	require.Equal(t, userID, out.Me.ID)
}

func sessionEnvs(t *testing.T, f func(t *testing.T, e *apptest.Env)) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		f(t, apptest.New(t, apptest.Options{
			Backend:   backend,
			Memcached: backend == apptest.MySQL,
			Env:       map[string]string{"WXID_SESSION_MAX_AGE": "2h"},
		}))
	})
}

func TestRefreshSession(t *testing.T) {
	sessionEnvs(t, func(t *testing.T, e *apptest.Env) {
		t.Run("rotation and grace", func(t *testing.T) {
			l := e.Login(t, "", "alice")
			e.Clock.Advance(20 * time.Minute)
			r := refresh(t, e, l.Skey)
			require.NotEqual(t, l.Skey, r.Skey)
			require.Len(t, r.Skey, session.TokenLen)
			require.WithinDuration(t, e.Clock.Now().Add(30*time.Minute), r.ExpiresAt, time.Second)
			requireMe(t, e, r.Skey, l.User.ID)
			requireMe(t, e, l.Skey, l.User.ID) // in the grace window

			e.Clock.Advance(61 * time.Second)
			requireUnauthenticated(t, e, l.Skey)
			rr := e.Do(t, l.Skey, refreshMutation, nil)
			require.Equal(t, "UNAUTHENTICATED", rr.Code(), "a rotated skey after its grace cannot refresh")
			requireMe(t, e, r.Skey, l.User.ID)
		})

		t.Run("refresh keeps a login alive past the idle ttl", func(t *testing.T) {
			l := e.Login(t, "", "bob")
			skey := l.Skey
			for i := 0; i < 4; i++ {
				e.Clock.Advance(20 * time.Minute)
				skey = refresh(t, e, skey).Skey
			}
			requireMe(t, e, skey, l.User.ID) // 80 minutes after login
		})

		t.Run("repeated refresh in grace returns the same successor", func(t *testing.T) {
			l := e.Login(t, "", "carol")
			a := refresh(t, e, l.Skey)
			b := refresh(t, e, l.Skey)
			require.Equal(t, a.Skey, b.Skey)
		})

		t.Run("concurrent refreshes do not fork", func(t *testing.T) {
			l := e.Login(t, "", "dave")
			const n = 6
			got := make([]string, n)
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					var out struct{ RefreshSession refreshed }
					e.Do(t, l.Skey, refreshMutation, nil).Decode(t, &out)
					got[i] = out.RefreshSession.Skey
				}(i)
			}
			wg.Wait()
			for _, s := range got {
				require.Equal(t, got[0], s, "every caller gets the same successor")
			}
			requireMe(t, e, got[0], l.User.ID)
			rows, err := e.App.DB.Client.Session.Query().
				Where(entsession.TokenHash(hashBytes(session.Hash(got[0])))).
				QueryUser().QuerySessions().
				Where(entsession.RevokedAtIsNil(), entsession.RotatedAtIsNil()).
				Count(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, rows, "one live lineage")
		})

		t.Run("idle expiry", func(t *testing.T) {
			l := e.Login(t, "", "erin")
			e.Clock.Advance(30*time.Minute + time.Second)
			requireUnauthenticated(t, e, l.Skey)
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, l.Skey, refreshMutation, nil).Code())
		})

		t.Run("max age caps refreshes", func(t *testing.T) {
			l := e.Login(t, "", "frank")
			loginAt := e.Clock.Now()
			skey := l.Skey
			var last refreshed
			for e.Clock.Now().Before(loginAt.Add(2*time.Hour - 20*time.Minute)) {
				e.Clock.Advance(20 * time.Minute)
				last = refresh(t, e, skey)
				skey = last.Skey
				require.False(t, last.ExpiresAt.After(loginAt.Add(2*time.Hour)), "never beyond the max age")
			}
			require.WithinDuration(t, loginAt.Add(2*time.Hour), last.ExpiresAt, time.Second)
			e.Clock.Advance(20*time.Minute + time.Second)
			requireUnauthenticated(t, e, skey)
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, skey, refreshMutation, nil).Code())
		})

		t.Run("missing skey", func(t *testing.T) {
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, "", refreshMutation, nil).Code())
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, "nonsense", refreshMutation, nil).Code())
		})
	})
}

func TestLogout(t *testing.T) {
	sessionEnvs(t, func(t *testing.T, e *apptest.Env) {
		t.Run("revokes at once, twice is unauthenticated", func(t *testing.T) {
			l := e.Login(t, "", "alice")
			other := e.Login(t, "", "alice") // another device
			var out struct{ Logout bool }
			e.Do(t, l.Skey, logoutMutation, nil).Decode(t, &out)
			require.True(t, out.Logout)
			requireUnauthenticated(t, e, l.Skey)
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, l.Skey, logoutMutation, nil).Code())
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, l.Skey, refreshMutation, nil).Code())
			requireMe(t, e, other.Skey, l.User.ID) // the other device stays
		})
		t.Run("ends the whole lineage", func(t *testing.T) {
			l := e.Login(t, "", "bob")
			r := refresh(t, e, l.Skey)
			apptest.Must(t, e.Do(t, r.Skey, logoutMutation, nil))
			requireUnauthenticated(t, e, l.Skey) // in grace, but its login ended
			requireUnauthenticated(t, e, r.Skey)
		})
		t.Run("anonymous", func(t *testing.T) {
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, "", logoutMutation, nil).Code())
		})
	})
}

func TestAdminSessionControl(t *testing.T) {
	sessionEnvs(t, func(t *testing.T, e *apptest.Env) {
		a := e.Login(t, "", "alice")
		b := e.Login(t, apptest.AppID2, "alice")
		bystander := e.Login(t, "", "bob")

		var list struct {
			Node struct {
				ActiveSessions []struct {
					ID, CreatedAt, ExpiresAt string
					ClientIP                 *string `json:"clientIP"`
					UserAgent                *string
				}
			}
		}
		q := `query($id: ID!) { node(id: $id) { ... on User { activeSessions { id createdAt expiresAt clientIP userAgent } } } }`
		e.Do(t, apptest.AdminToken, q, map[string]any{"id": a.User.ID}).Decode(t, &list)
		require.Len(t, list.Node.ActiveSessions, 2)
		require.Equal(t, "127.0.0.1", *list.Node.ActiveSessions[0].ClientIP)
		require.Contains(t, *list.Node.ActiveSessions[0].UserAgent, "Go-http-client")
		require.NotContains(t, e.Do(t, apptest.AdminToken, q, map[string]any{"id": a.User.ID}).Body, a.Skey)

		require.Equal(t, "FORBIDDEN", e.Do(t, a.Skey, `{ me { activeSessions { id } } }`, nil).Code())

		revoke := `mutation($id: ID!) { revokeUserSessions(userId: $id) }`
		require.Equal(t, "FORBIDDEN", e.Do(t, a.Skey, revoke, map[string]any{"id": a.User.ID}).Code())
		var n struct{ RevokeUserSessions int }
		e.Do(t, apptest.AdminToken, revoke, map[string]any{"id": a.User.ID}).Decode(t, &n)
		require.Equal(t, 2, n.RevokeUserSessions)
		requireUnauthenticated(t, e, a.Skey)
		requireUnauthenticated(t, e, b.Skey)
		requireMe(t, e, bystander.Skey, bystander.User.ID)
		e.Do(t, apptest.AdminToken, revoke, map[string]any{"id": a.User.ID}).Decode(t, &n)
		require.Equal(t, 0, n.RevokeUserSessions)

		t.Run("disabled users", func(t *testing.T) {
			c := e.Login(t, "", "alice")
			disable := `mutation($id: ID!) { disableUser(id: $id) { id disabled } }`
			apptest.Must(t, e.Do(t, apptest.AdminToken, disable, map[string]any{"id": c.User.ID}))
			requireUnauthenticated(t, e, c.Skey)
			require.Equal(t, "FORBIDDEN", e.LoginResponse(t, "", "alice").Code())
			require.Equal(t, "FORBIDDEN", e.LoginResponse(t, apptest.AppID2, "alice").Code())

			enable := `mutation($id: ID!) { enableUser(id: $id) { id disabled } }`
			apptest.Must(t, e.Do(t, apptest.AdminToken, enable, map[string]any{"id": c.User.ID}))
			requireUnauthenticated(t, e, c.Skey) // re-enabling does not resurrect sessions
			d := e.Login(t, "", "alice")
			requireMe(t, e, d.Skey, c.User.ID)
		})
	})
}

// TestRevocationReachesCache: a revoked skey stays dead whatever the cache
// went through.
func TestRevocationReachesCache(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})

	t.Run("memcached up", func(t *testing.T) {
		l := e.Login(t, "", "a")
		requireMe(t, e, l.Skey, l.User.ID) // cached
		apptest.Must(t, e.Do(t, l.Skey, logoutMutation, nil))
		requireUnauthenticated(t, e, l.Skey)
	})
	t.Run("memcached restarted after logout", func(t *testing.T) {
		l := e.Login(t, "", "b")
		apptest.Must(t, e.Do(t, l.Skey, logoutMutation, nil))
		e.Memcached.Restart()
		requireUnauthenticated(t, e, l.Skey)
	})
	t.Run("memcached down during logout", func(t *testing.T) {
		l := e.Login(t, "", "c")
		requireMe(t, e, l.Skey, l.User.ID)
		e.Memcached.Stop()
		apptest.Must(t, e.Do(t, l.Skey, logoutMutation, nil))
		e.Memcached.Start()
		requireUnauthenticated(t, e, l.Skey)
		require.Eventually(t, func() bool { return e.App.Sessions.Pending() == 0 }, 5*time.Second, 50*time.Millisecond)
	})
	t.Run("memcached hung during logout keeps the stale entry", func(t *testing.T) {
		l := e.Login(t, "", "d")
		requireMe(t, e, l.Skey, l.User.ID) // the entry is in memcached
		e.Memcached.Pause()
		apptest.Must(t, e.Do(t, l.Skey, logoutMutation, nil))
		require.Equal(t, 1, e.App.Sessions.Pending())
		e.Memcached.Resume()
		// The stale entry is still in memcached until the retry writes the
		// tombstone; the skey is refused all along.
		requireUnauthenticated(t, e, l.Skey)
		require.Eventually(t, func() bool { return e.App.Sessions.Pending() == 0 }, 5*time.Second, 50*time.Millisecond)
		requireUnauthenticated(t, e, l.Skey)
	})
	t.Run("rotation while memcached is hung does not extend the old skey", func(t *testing.T) {
		l := e.Login(t, "", "e")
		requireMe(t, e, l.Skey, l.User.ID)
		e.Memcached.Pause()
		r := refresh(t, e, l.Skey)
		e.Memcached.Resume()
		requireMe(t, e, r.Skey, l.User.ID)
		e.Clock.Advance(2 * time.Minute)
		requireUnauthenticated(t, e, l.Skey)
	})
}

func TestPurge(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		ctx := context.Background()
		live := e.Login(t, "", "live")
		for i := 0; i < 3; i++ {
			l := e.Login(t, "", "gone")
			apptest.Must(t, e.Do(t, l.Skey, logoutMutation, nil))
		}
		e.Login(t, "", "idle") // expires
		e.Clock.Advance(20 * time.Minute)
		requireMe(t, e, refresh(t, e, live.Skey).Skey, live.User.ID)
		e.Clock.Advance(11 * time.Minute)

		n, err := e.App.Sessions.Purge(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "dead for less than an hour: kept for the record")

		e.Clock.Advance(2 * time.Hour)
		live2 := e.Login(t, "", "live")
		n, err = e.App.Sessions.Purge(ctx)
		require.NoError(t, err)
		require.Equal(t, 6, n, "3 revoked, 1 idle, the original live and its rotated successor")
		left, err := e.App.DB.Client.Session.Query().Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, left)
		requireMe(t, e, live2.Skey, live.User.ID)
	})
}

// hashBytes is an skey hash as the sessions table stores it.
func hashBytes(hash string) []byte {
	b, err := hex.DecodeString(hash)
	if err != nil {
		panic(err)
	}
	return b
}
