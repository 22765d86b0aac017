package app_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat/wechattest"
)

const meQuery = `{ me { id unionId phoneNumber createdAt lastLoginAt openIds { appId openId } } }`

type meResult struct {
	Me struct {
		ID          string
		UnionID     *string
		PhoneNumber *string
		CreatedAt   time.Time
		LastLoginAt *time.Time
		OpenIDs     []struct{ AppID, OpenID string } `json:"openIds"`
	}
}

func me(t *testing.T, e *apptest.Env, skey string) meResult {
	t.Helper()
	var out meResult
	e.Do(t, skey, meQuery, nil).Decode(t, &out)
	return out
}

func TestLogin(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})

		t.Run("new user", func(t *testing.T) {
			l := e.Login(t, "", "alice")
			require.True(t, l.IsNewUser)
			require.Equal(t, e.WeChat.OpenID(apptest.AppID, "alice"), l.OpenID)
			require.NotNil(t, l.UnionID)
			require.Equal(t, e.WeChat.UnionID(apptest.AppID, "alice"), *l.UnionID)
			require.Len(t, l.Skey, session.TokenLen)
			require.WithinDuration(t, e.Clock.Now().Add(30*time.Minute), l.ExpiresAt, time.Second)

			m := me(t, e, l.Skey)
			require.Equal(t, l.User.ID, m.Me.ID)
			require.Equal(t, *l.UnionID, *m.Me.UnionID)
			require.Nil(t, m.Me.PhoneNumber)
			require.Len(t, m.Me.OpenIDs, 1)
			require.Equal(t, apptest.AppID, m.Me.OpenIDs[0].AppID)
			require.Equal(t, l.OpenID, m.Me.OpenIDs[0].OpenID)
		})

		t.Run("returning user", func(t *testing.T) {
			first := e.Login(t, "", "bob")
			before := me(t, e, first.Skey)
			e.Clock.Advance(time.Minute)
			again := e.Login(t, "", "bob")
			require.False(t, again.IsNewUser)
			require.Equal(t, first.User.ID, again.User.ID)
			require.NotEqual(t, first.Skey, again.Skey)
			after := me(t, e, again.Skey)
			require.True(t, after.Me.LastLoginAt.After(*before.Me.LastLoginAt), "lastLoginAt moves on each login")
			require.Equal(t, before.Me.CreatedAt, after.Me.CreatedAt)
			// Both logins' skeys work: they are separate sessions.
			require.Equal(t, first.User.ID, me(t, e, first.Skey).Me.ID)
		})

		t.Run("unionid binds apps", func(t *testing.T) {
			a := e.Login(t, apptest.AppID, "carol")
			b := e.Login(t, apptest.AppID2, "carol")
			require.True(t, a.IsNewUser)
			require.False(t, b.IsNewUser, "same person in a second app of the open platform")
			require.Equal(t, a.User.ID, b.User.ID)
			require.NotEqual(t, a.OpenID, b.OpenID)
			m := me(t, e, b.Skey)
			require.Len(t, m.Me.OpenIDs, 2)
		})

		t.Run("app without open platform", func(t *testing.T) {
			a := e.Login(t, apptest.AppID, "dave")
			c := e.Login(t, apptest.AppNoUnion, "dave")
			require.True(t, c.IsNewUser, "no unionid: no way to know it is the same person")
			require.Nil(t, c.UnionID)
			require.NotEqual(t, a.User.ID, c.User.ID)
			require.Nil(t, me(t, e, c.Skey).Me.UnionID)
		})

		t.Run("newest session_key wins and is sealed", func(t *testing.T) {
			e.Login(t, "", "erin")
			firstKey := e.WeChat.SessionKey(apptest.AppID, "erin")
			e.Login(t, "", "erin")
			secondKey := e.WeChat.SessionKey(apptest.AppID, "erin")
			require.NotEqual(t, firstKey, secondKey)
			row, err := e.App.DB.Client.OpenID.Query().
				Where(openid.Openid(e.WeChat.OpenID(apptest.AppID, "erin"))).Only(context.Background())
			require.NoError(t, err)
			require.NotContains(t, string(row.SessionKey), secondKey, "stored encrypted")
			plain, err := e.App.Sealer.Open(row.SessionKey, users.SessionKeyAAD(apptest.AppID, row.Openid))
			require.NoError(t, err)
			require.Equal(t, secondKey, string(plain))
		})
	})
}

func TestLoginErrors(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	login := func(code string, appID any) *apptest.Response {
		return e.Do(t, "", apptest.LoginMutation, map[string]any{"code": code, "appId": appID})
	}
	tests := []struct {
		name   string
		fault  *wechattest.Fault
		code   func() string
		appID  any
		expect string
	}{
		{name: "empty code", code: func() string { return "  " }, expect: "BAD_USER_INPUT"},
		{name: "oversized code", code: func() string { return strings.Repeat("a", 1000) }, expect: "BAD_USER_INPUT"},
		{name: "control characters", code: func() string { return "abc\x00def" }, expect: "BAD_USER_INPUT"},
		{name: "non-ASCII", code: func() string { return "code\u00e9\u4ee3\u7801" }, expect: "BAD_USER_INPUT"},
		{name: "non-breaking space", code: func() string { return "abc\u00a0def" }, expect: "BAD_USER_INPUT"},
		{name: "unknown app", code: func() string { return "whatever" }, appID: "wxunknown", expect: "BAD_USER_INPUT"},
		{name: "invalid code", code: func() string { return "never-issued" }, expect: "INVALID_CODE"},
		{name: "code of another app", code: func() string { return e.Code(t, apptest.AppID2, "zed") }, expect: "INVALID_CODE"},
		{name: "40029", fault: &wechattest.Fault{Errcode: 40029, Errmsg: "invalid code"}, expect: "INVALID_CODE"},
		{name: "40163 used", fault: &wechattest.Fault{Errcode: 40163, Errmsg: "code been used"}, expect: "INVALID_CODE"},
		{name: "40226 blocked", fault: &wechattest.Fault{Errcode: 40226, Errmsg: "high risk user"}, expect: "FORBIDDEN"},
		{name: "45011 rate limit", fault: &wechattest.Fault{Errcode: 45011, Errmsg: "api minute-quota reach limit"}, expect: "WECHAT_RATE_LIMITED"},
		{name: "-1 busy", fault: &wechattest.Fault{Errcode: -1, Errmsg: "system error"}, expect: "WECHAT_UNAVAILABLE"},
		{name: "http 502", fault: &wechattest.Fault{HTTPStatus: 502}, expect: "WECHAT_UNAVAILABLE"},
		{name: "garbage body", fault: &wechattest.Fault{Body: "<html>oops"}, expect: "WECHAT_UNAVAILABLE"},
		{name: "timeout", fault: &wechattest.Fault{Delay: 3 * time.Second}, expect: "WECHAT_UNAVAILABLE"},
		{name: "bad secret", fault: &wechattest.Fault{Errcode: 40125, Errmsg: "invalid appsecret"}, expect: "INTERNAL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code := ""
			if tc.code != nil {
				code = tc.code()
			} else {
				code = e.Code(t, apptest.AppID, "victim-"+tc.name)
				e.WeChat.Fail(wechattest.APICode2Session, *tc.fault)
			}
			r := login(code, tc.appID)
			require.Equal(t, 200, r.Status)
			require.Equal(t, tc.expect, r.Code(), r.Body)
			require.Equal(t, "null", string(r.Data))
			require.NotContains(t, r.Body, "secret-of-app", "no AppSecret in answers")
			require.NotContains(t, r.Body, e.WeChat.URL, "no upstream URL in answers")
		})
	}

	t.Run("reused code", func(t *testing.T) {
		code := e.Code(t, apptest.AppID, "reuse")
		require.Empty(t, login(code, nil).Errors)
		require.Equal(t, "INVALID_CODE", login(code, nil).Code())
	})

	t.Run("risk-blocked user", func(t *testing.T) {
		e.WeChat.Block(apptest.AppID, "risky")
		r := login(e.Code(t, apptest.AppID, "risky"), nil)
		require.Equal(t, "FORBIDDEN", r.Code(), r.Body)
		require.Contains(t, r.Body, "retrying cannot help")
		calls := e.WeChat.Count(wechattest.APICode2Session)
		require.Equal(t, "FORBIDDEN", login(e.Code(t, apptest.AppID, "risky"), nil).Code(), "a fresh code does not help")
		require.Equal(t, calls+1, e.WeChat.Count(wechattest.APICode2Session))
	})

	t.Run("malformed codes never reach WeChat", func(t *testing.T) {
		calls := e.WeChat.Count(wechattest.APICode2Session)
		for _, code := range []string{"abc\u00e9", "\u4ee3\u7801", "a\tb", "a\x7fb"} {
			require.Equal(t, "BAD_USER_INPUT", login(code, nil).Code(), "%q", code)
		}
		require.Equal(t, calls, e.WeChat.Count(wechattest.APICode2Session))
	})

	t.Run("expired code", func(t *testing.T) {
		code := e.Code(t, apptest.AppID, "late")
		e.Clock.Advance(6 * time.Minute)
		require.Equal(t, "INVALID_CODE", login(code, nil).Code())
	})

	t.Run("logs keep secrets", func(t *testing.T) {
		l := e.Login(t, "", "logcheck")
		me(t, e, l.Skey)
		logs := e.Logs.String()
		require.NotContains(t, logs, l.Skey)
		require.NotContains(t, logs, "secret-of-app")
		require.NotContains(t, logs, e.WeChat.SessionKey(apptest.AppID, "logcheck"))
	})
}

func TestMeAuthentication(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	l := e.Login(t, "", "alice")
	tests := []struct {
		name, header string
	}{
		{"missing", ""},
		{"garbage", "Bearer garbage"},
		{"well-formed but not issued by wxid", "Bearer " + strings.Repeat("A", session.TokenLen)},
		{"the old 43-character format", "Bearer " + strings.Repeat("A", 43)},
		{"wrong scheme", "Basic " + l.Skey},
		{"empty bearer", "Bearer "},
		{"admin token is no user", "Bearer " + apptest.AdminToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.PostWithHeader(t, tc.header, `{"query":"{ me { id } }"}`)
			require.Equal(t, 200, r.Status)
			require.Equal(t, "UNAUTHENTICATED", r.Code(), r.Body)
		})
	}
	t.Run("login works with a stale skey attached", func(t *testing.T) {
		code := e.Code(t, apptest.AppID, "alice")
		r := e.Do(t, strings.Repeat("A", 43), apptest.LoginMutation, map[string]any{"code": code})
		apptest.Must(t, r)
	})
	t.Run("bearer scheme is case-insensitive", func(t *testing.T) {
		r := e.PostWithHeader(t, "bearer "+l.Skey, `{"query":"{ me { id } }"}`)
		apptest.Must(t, r)
	})
}

// TestConcurrentFirstLogins: several first logins of one new person at once
// create exactly one user, and exactly one of them says isNewUser.
func TestConcurrentFirstLogins(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		for round := 0; round < 3; round++ {
			user := "crowd-" + string(rune('a'+round))
			const n = 8
			codes := make([]string, n)
			for i := range codes {
				// Alternate apps: openid races and unionid races at once.
				app := apptest.AppID
				if i%2 == 1 {
					app = apptest.AppID2
				}
				codes[i] = e.Code(t, app, user)
			}
			var wg sync.WaitGroup
			results := make([]*apptest.Response, n)
			start := make(chan struct{})
			for i := range codes {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					app := apptest.AppID
					if i%2 == 1 {
						app = apptest.AppID2
					}
					results[i] = e.Do(t, "", apptest.LoginMutation, map[string]any{"code": codes[i], "appId": app})
				}(i)
			}
			close(start)
			wg.Wait()
			newUsers, ids := 0, map[string]bool{}
			for _, r := range results {
				var out struct{ Login apptest.LoginResult }
				r.Decode(t, &out)
				if out.Login.IsNewUser {
					newUsers++
				}
				ids[out.Login.User.ID] = true
			}
			require.Equal(t, 1, newUsers, "exactly one isNewUser")
			require.Len(t, ids, 1, "one user")
			unionID := e.WeChat.UnionID(apptest.AppID, user)
			count, err := e.App.DB.Client.User.Query().Count(context.Background())
			require.NoError(t, err)
			require.Equal(t, round+1, count)
			require.NotEmpty(t, unionID)
		}
	})
}

// TestCacheOutages: memcached is a cache, never the truth.
func TestCacheOutages(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	l := e.Login(t, "", "alice")

	t.Run("flushed", func(t *testing.T) {
		e.Memcached.Flush()
		require.Equal(t, l.User.ID, me(t, e, l.Skey).Me.ID)
	})
	t.Run("restarted", func(t *testing.T) {
		e.Memcached.Restart()
		require.Equal(t, l.User.ID, me(t, e, l.Skey).Me.ID)
	})
	t.Run("stopped", func(t *testing.T) {
		e.Memcached.Stop()
		defer e.Memcached.Start()
		require.Equal(t, l.User.ID, me(t, e, l.Skey).Me.ID)
		// Logins keep working too, and their sessions are durable.
		l2 := e.Login(t, "", "bob")
		require.Equal(t, l2.User.ID, me(t, e, l2.Skey).Me.ID)
		r := e.Do(t, "garbage", `{ me { id } }`, nil)
		require.Equal(t, "UNAUTHENTICATED", r.Code())
	})
	t.Run("back again", func(t *testing.T) {
		require.Equal(t, l.User.ID, me(t, e, l.Skey).Me.ID)
	})
}

// TestMeCost: right after a login (its tombstone holds the user view's
// key) me costs two cache gets (the session, the user view) and one
// select; once the view is cached, two cache gets and no SQL.
func TestMeCost(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL, CountQueries: true})
		q := e.Queries
		l := e.Login(t, "", "alice")
		gets := func() float64 {
			return counterValue(t, e, "wxid_cache_operations_total", map[string]string{"op": "get"})
		}
		me := func() (int, []string, float64) {
			before := gets()
			q.Start()
			var out struct{ Me struct{ ID string } }
			e.Do(t, l.Skey, `{ me { id phoneNumber lastLoginAt disabled } }`, nil).Decode(t, &out)
			require.Equal(t, l.User.ID, out.Me.ID)
			n, stmts := q.Stop()
			return n, stmts, gets() - before
		}
		n, stmts, g := me()
		require.Equal(t, 1, n, "one select of the user's view: %v", stmts)
		require.Contains(t, stmts[0], "WHERE `users`.`id` = ?")
		require.Equal(t, 2.0, g, "two cache gets")

		id, err := strconv.Atoi(l.User.ID)
		require.NoError(t, err)
		require.NoError(t, e.App.Cache.Delete(context.Background(), users.ViewKey(id))) // the tombstone expires
		n, _, _ = me()
		require.Equal(t, 1, n, "a miss reads the view and caches it")
		n, stmts, g = me()
		require.Zero(t, n, "a hit reads no SQL: %v", stmts)
		require.Equal(t, 2.0, g, "two cache gets")
	})
}

// counterValue sums a counter's series whose labels include match.
func counterValue(t *testing.T, e *apptest.Env, name string, match map[string]string) float64 {
	t.Helper()
	families, err := e.App.Registry.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestDeadSkeyCost: a client retrying with a dead skey reads the database
// once, then only the cache; an skey wxid never issued costs nothing.
func TestDeadSkeyCost(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL, CountQueries: true})
		q := e.Queries
		l := e.Login(t, "", "alice")
		e.Clock.Advance(31 * time.Minute) // the skey expires, and so does its cache entry:
		require.NoError(t, e.App.Cache.Delete(context.Background(), session.CacheKey(session.Hash(l.Skey))))
		q.Start()
		for i := 0; i < 3; i++ {
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, l.Skey, `{ me { id } }`, nil).Code())
		}
		n, stmts := q.Stop()
		require.Equal(t, 1, n, "only the first try reads the database: %v", stmts)

		forged := strings.Repeat("Z", session.TokenLen)
		q.Start()
		for i := 0; i < 3; i++ {
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, forged, `{ me { id } }`, nil).Code())
		}
		n, stmts = q.Stop()
		require.Equal(t, 0, n, "an skey wxid did not issue never reaches the database: %v", stmts)
		_, err := e.App.Cache.Get(context.Background(), session.CacheKey(session.Hash(forged)))
		require.ErrorIs(t, err, cache.ErrCacheMiss, "nor the cache")
	})
}

// TestMeQueryCount: with the skey in the cache, `me` reads the user and its
// unionid in one statement, and its openids in one more; a user without a
// unionid costs the same.
func orDefaultApp(appID string) string {
	if appID == "" {
		return apptest.AppID
	}
	return appID
}

func TestMeQueryCount(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL, CountQueries: true})
		q := e.Queries
		for _, tc := range []struct{ app, user string }{{"", "alice"}, {apptest.AppNoUnion, "bob"}} {
			l := e.Login(t, tc.app, tc.user)
			for query, want := range map[string]int{
				`{ me { id } }`:                           1,
				`{ me { id unionId } }`:                   1,
				`{ me { id unionId openIds { appId } } }`: 1,
				`{ me { id openIds { appId openId } } }`:  1,
			} {
				q.Start()
				r := apptest.Must(t, e.Do(t, l.Skey, query, nil))
				n, stmts := q.Stop()
				require.Equal(t, want, n, "%s %s: %v", tc.user, query, stmts)
				if strings.Contains(query, "openId }") {
					require.Contains(t, string(r.Data), `"openId":"`+e.WeChat.OpenID(orDefaultApp(tc.app), tc.user)+`"`)
				}
				if tc.user == "alice" && strings.Contains(query, "unionId") {
					require.Contains(t, string(r.Data), *l.UnionID)
				} else if strings.Contains(query, "unionId") {
					require.Contains(t, string(r.Data), `"unionId":null`)
				}
			}
		}
	})
}
