package app_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/users"
)

// statement matches the SQL statements the budgets count, as the query
// counter logs them: SELECT, INSERT, UPDATE and DELETE (not BEGIN, COMMIT
// or the driver's own calls).
var statement = regexp.MustCompile(`(?i)^\s*(SELECT|INSERT|UPDATE|DELETE)\b`)

// sqlStatements runs f and returns the SQL statements it ran, each
// statement of a batch (several sent in one round trip, separated by
// semicolons) on its own.
func sqlStatements(t *testing.T, e *apptest.Env, f func()) []string {
	stmts, _ := sqlRoundTrips(t, e, f)
	return stmts
}

// sqlRoundTrips is sqlStatements that also returns how many round trips
// carried them.
func sqlRoundTrips(t *testing.T, e *apptest.Env, f func()) (stmts []string, trips int) {
	t.Helper()
	e.Queries.Start()
	f()
	_, all := e.Queries.Stop()
	for _, s := range all {
		_, q, ok := strings.Cut(s, "query=")
		if !ok {
			continue
		}
		q, _, _ = strings.Cut(q, " args=") // arguments may hold anything
		n := len(stmts)
		for _, one := range strings.Split(q, ";") {
			if statement.MatchString(one) {
				stmts = append(stmts, one)
			}
		}
		if len(stmts) > n {
			trips++
		}
	}
	return stmts, trips
}

// cacheCalls runs f and returns the cache calls it made, by operation
// (get, set, add, delete, incr), as wxid_cache_operations_total counts them.
func cacheCalls(t *testing.T, e *apptest.Env, f func()) map[string]int {
	t.Helper()
	count := func() map[string]int {
		mfs, err := e.App.Registry.Gather()
		require.NoError(t, err)
		out := map[string]int{}
		for _, mf := range mfs {
			if mf.GetName() != "wxid_cache_operations_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "op" {
						out[l.GetValue()] += int(m.GetCounter().GetValue())
					}
				}
			}
		}
		return out
	}
	before := count()
	f()
	after := count()
	for op, n := range before {
		if after[op] -= n; after[op] == 0 {
			delete(after, op)
		}
	}
	delete(after, "ping")
	return after
}

// TestOperationCosts pins what each hot operation costs in SQL statements,
// so that a change adding one fails here. Budgets: login of a returning
// user <= 5, of a new user <= 7, refreshSession and logout <= 4, and me
// with every field 1 on a miss and 0 on a hit of the user view cache.
func TestOperationCosts(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL, CountQueries: true})
		const allFields = `{ me { id unionId phoneNumber purePhoneNumber countryCode openIds { appId openId } createdAt lastLoginAt } }`
		const login = `mutation($code: String!, $appId: String) { login(input: {code: $code, appId: $appId}) {
			skey expiresAt isNewUser openId unionId user { id unionId phoneNumber openIds { appId openId } createdAt lastLoginAt } } }`
		do := func(skey, q string, vars map[string]any) *apptest.Response {
			return apptest.Must(t, e.Do(t, skey, q, vars))
		}
		var l struct{ Login apptest.LoginResult }
		check := func(name string, budget int, stmts []string) {
			t.Helper()
			t.Logf("%s: %d statements", name, len(stmts))
			require.LessOrEqual(t, len(stmts), budget, "%s costs at most %d statements:\n%s", name, budget, strings.Join(stmts, "\n"))
		}

		check("login (new user)", 7, sqlStatements(t, e, func() {
			do("", login, map[string]any{"code": e.Code(t, apptest.AppID, "alice")}).Decode(t, &l)
		}))
		require.True(t, l.Login.IsNewUser)
		check("login (new app of a known person)", 7, sqlStatements(t, e, func() {
			do("", login, map[string]any{"code": e.Code(t, apptest.AppID2, "alice"), "appId": apptest.AppID2}).Decode(t, &l)
		}))
		require.False(t, l.Login.IsNewUser)
		code := e.Code(t, apptest.AppID, "alice")
		var loginCalls map[string]int
		stmts, trips := sqlRoundTrips(t, e, func() {
			loginCalls = cacheCalls(t, e, func() { do("", login, map[string]any{"code": code}).Decode(t, &l) })
		})
		check("login (returning user)", 5, stmts)
		if backend == apptest.MySQL {
			// The view, then the writes in one batch (plus BEGIN and
			// COMMIT, which carry no statement): one UPDATE of the OpenID
			// row and the user, the audit event, the session.
			require.Equal(t, 2, trips, "a returning login's statements reach MySQL in 2 round trips:\n%s", strings.Join(stmts, "\n"))
			require.Len(t, stmts, 4, "a returning login's statements on MySQL:\n%s", strings.Join(stmts, "\n"))
		}
		require.Equal(t, 2, loginCalls["set"], "the new session and the user view's tombstone: %v", loginCalls)
		// A day later: the first login of the day, decided under the row
		// locks (package identity), batched all the same.
		e.Clock.Advance(24 * time.Hour)
		stmts, trips = sqlRoundTrips(t, e, func() {
			do("", login, map[string]any{"code": e.Code(t, apptest.AppID, "alice")}).Decode(t, &l)
		})
		check("login (returning user, first of the day)", 5, stmts)
		if backend == apptest.MySQL {
			require.Equal(t, 2, trips, "a day's first login reaches MySQL in 2 round trips too:\n%s", strings.Join(stmts, "\n"))
			require.Len(t, stmts, 4, "and costs the same statements:\n%s", strings.Join(stmts, "\n"))
		}
		skey := l.Login.Skey
		var calls map[string]int
		me := func() { calls = cacheCalls(t, e, func() { do(skey, allFields, nil) }) }
		// Right after a login its tombstone holds the user's view key: the
		// database answers and nothing is cached.
		check("me (every field, after a write)", 1, sqlStatements(t, e, me))
		require.Equal(t, map[string]int{"get": 2}, calls, "the session and the user view")
		// Once the tombstone has expired (here: removed), a miss reads the
		// view and adds it; the next me reads no SQL.
		id, err := strconv.Atoi(l.Login.User.ID)
		require.NoError(t, err)
		require.NoError(t, e.App.Cache.Delete(context.Background(), users.ViewKey(id)))
		check("me (every field, miss)", 1, sqlStatements(t, e, me))
		require.Equal(t, map[string]int{"get": 2, "add": 1}, calls)
		check("me (every field, hit)", 0, sqlStatements(t, e, me))
		require.Equal(t, map[string]int{"get": 2}, calls)
		check("me (every field, hit again)", 0, sqlStatements(t, e, me))

		var r struct{ RefreshSession struct{ Skey string } }
		check("refreshSession", 4, sqlStatements(t, e, func() {
			do(skey, `mutation { refreshSession { skey expiresAt } }`, nil).Decode(t, &r)
		}))
		check("logout", 4, sqlStatements(t, e, func() { do(r.RefreshSession.Skey, `mutation { logout }`, nil) }))
	})
}

// TestFeedPollsAreNotCounted: the revocation feed's and the user write
// feed's polls run in the background once a second; the query counter
// leaves them out so that they never land in an operation's budget.
func TestFeedPollsAreNotCounted(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, CountQueries: true})
		stmts := sqlStatements(t, e, func() {
			require.NoError(t, e.App.Views.PollWrites(context.Background()))
			require.NoError(t, e.App.Sessions.PollRevocations(context.Background()))
		})
		require.Empty(t, stmts)
	})
}
