package app_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/users"
)

// TestAdminWhereShapes: every `where` shape that no index serves is refused
// up front with BAD_USER_INPUT and a message saying what to do instead;
// the indexed shapes answer.
func TestAdminWhereShapes(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		alice := e.Login(t, "", "alice")
		nested := func(depth int) map[string]any {
			w := map[string]any{"disabled": false}
			for range depth {
				w = map[string]any{"hasOpenIdsWith": []any{map[string]any{"hasUserWith": []any{w}}}}
			}
			return w
		}
		many := make([]any, users.MaxWhereInputs)
		for i := range many {
			many[i] = map[string]any{"disabled": false}
		}
		refused := []struct {
			name  string
			where map[string]any
			says  string
		}{
			{"phone contains", map[string]any{"phoneNumberContains": "8000"}, "phoneNumberEndsWith"},
			{"phone suffix", map[string]any{"phoneNumberHasSuffix": "8000"}, "phoneNumberEndsWith"},
			{"pure phone suffix", map[string]any{"purePhoneNumberHasSuffix": "8000"}, "phoneNumberEndsWith"},
			{"phone equal fold", map[string]any{"phoneNumberEqualFold": "+8613800138000"}, "exact value"},
			{"openid contains fold", map[string]any{"hasOpenIdsWith": []any{map[string]any{"openidContainsFold": "abc"}}}, "exact value"},
			{"unionid contains", map[string]any{"hasUnionIDWith": []any{map[string]any{"unionidContains": "abc"}}}, "exact value"},
			{"two nested edge predicates", nested(2), "inside another"},
			{"seven nested edge predicates", nested(7), "inside another"},
			{"an edge predicate in or", map[string]any{"or": []any{
				map[string]any{"phoneNumber": "+8613800138000"},
				map[string]any{"hasUnionIDWith": []any{map[string]any{"unionid": "u"}}},
			}}, "one query per alternative"},
			{"an edge predicate in not", map[string]any{"not": map[string]any{"hasUnionID": true}}, "one query per alternative"},
			{"deep not", map[string]any{"not": map[string]any{"not": map[string]any{"not": map[string]any{"not": map[string]any{"disabled": true}}}}}, "nests deeper"},
			{"too many conditions", map[string]any{"and": many}, "more than"},
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 10, "where": tc.where})
				require.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
				require.Contains(t, r.Body, tc.says)
				require.Less(t, time.Since(start), time.Second, "refused before any SQL")
			})
		}
		allowed := []map[string]any{
			{"hasOpenIdsWith": []any{map[string]any{"openid": alice.OpenID}}, "not": map[string]any{"disabled": true}},
			{"or": []any{map[string]any{"phoneNumberHasPrefix": "+86"}, map[string]any{"disabled": false}}},
			{"and": []any{map[string]any{"hasUnionID": true}, map[string]any{"disabled": false}}},
		}
		for i, w := range allowed {
			c := listUsers(t, e, map[string]any{"first": 10, "where": w})
			require.Equal(t, []string{alice.User.ID}, c.ids(), "allowed shape %d", i)
		}
	})
}

// TestAdminCursorOfAnotherOrder: a cursor works only with the orderBy it
// was cut in, the two time orders and the id order told apart.
func TestAdminCursorOfAnotherOrder(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	e.Login(t, "", "alice")
	e.Login(t, "", "bob")
	orders := map[string]any{
		"ID":            nil,
		"CREATED_AT":    map[string]any{"field": "CREATED_AT", "direction": "ASC"},
		"LAST_LOGIN_AT": map[string]any{"field": "LAST_LOGIN_AT", "direction": "ASC"},
	}
	for from, fromOrder := range orders {
		c := listUsers(t, e, map[string]any{"first": 1, "orderBy": fromOrder})
		cursor := *c.PageInfo.EndCursor
		for to, toOrder := range orders {
			r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 1, "after": cursor, "orderBy": toOrder})
			if from == to {
				apptest.Must(t, r)
				continue
			}
			require.Equal(t, "BAD_USER_INPUT", r.Code(), "a %s cursor with %s: %s", from, to, r.Body)
			require.True(t, strings.Contains(r.Body, "another orderBy"), r.Body)
		}
	}
}

// TestAdminPhoneNumberEndsWith: the last digits of a phone number find its
// user through phone_suffix, which follows every change of phone_number.
func TestAdminPhoneNumberEndsWith(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		alice := e.Login(t, "", "alice")
		bob := e.Login(t, "", "bob")
		ctx := context.Background()
		setPhone := func(id string, phone *string) {
			n, err := strconv.Atoi(id)
			require.NoError(t, err)
			u := e.App.DB.Client.User.UpdateOneID(n)
			if phone == nil {
				u.ClearPhoneNumber()
			} else {
				u.SetPhoneNumber(*phone)
			}
			require.NoError(t, u.Exec(ctx))
		}
		p := func(s string) *string { return &s }
		setPhone(alice.User.ID, p("+8613800138000"))
		setPhone(bob.User.ID, p("+8613900139000"))
		find := func(digits string) []string {
			return listUsers(t, e, map[string]any{"first": 10, "where": map[string]any{"phoneNumberEndsWith": digits}}).ids()
		}
		require.Equal(t, []string{alice.User.ID}, find("8000"))
		require.Equal(t, []string{alice.User.ID}, find("13800138000"))
		require.Equal(t, []string{bob.User.ID}, find("139000"))
		require.Empty(t, find("238000"), "the whole suffix is compared, not only the indexed digits")
		require.Empty(t, find("7000"))

		setPhone(alice.User.ID, p("+8613800137000"))
		require.Empty(t, find("8000"), "phone_suffix follows a new number")
		require.Equal(t, []string{alice.User.ID}, find("7000"))
		setPhone(alice.User.ID, nil)
		require.Empty(t, find("7000"), "and a removed one")

		for _, bad := range []string{"", "123", "12a4", "+8613800138000"} {
			r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 10, "where": map[string]any{"phoneNumberEndsWith": bad}})
			require.Equal(t, "BAD_USER_INPUT", r.Code(), "%q: %s", bad, r.Body)
		}
	})
}

// TestAdminCappedTotalCount: totalCount counts up to users.TotalCountCap
// and says whether it is exact, on every page; asking only whether it is
// exact counts too.
func TestAdminCappedTotalCount(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	seedUsers(t, e, users.TotalCountCap+2, time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
	const q = `query($where: UserWhereInput, $after: Cursor) { users(first: 2, where: $where, after: $after) {
		totalCount totalCountIsExact pageInfo { endCursor } } }`
	type conn struct {
		Users struct {
			TotalCount        int
			TotalCountIsExact bool
			PageInfo          struct{ EndCursor string }
		}
	}
	var all conn
	e.Do(t, apptest.AdminToken, q, nil).Decode(t, &all)
	require.Equal(t, users.TotalCountCap+1, all.Users.TotalCount)
	require.False(t, all.Users.TotalCountIsExact)
	var next conn
	e.Do(t, apptest.AdminToken, q, map[string]any{"after": all.Users.PageInfo.EndCursor}).Decode(t, &next)
	require.Equal(t, all.Users.TotalCount, next.Users.TotalCount, "a later page counts the same")
	require.False(t, next.Users.TotalCountIsExact)

	var only struct {
		Users struct{ TotalCountIsExact bool }
	}
	e.Do(t, apptest.AdminToken, `{ users(first: 0) { totalCountIsExact } }`, nil).Decode(t, &only)
	require.False(t, only.Users.TotalCountIsExact, "asking only whether the count is exact counts")
	e.Do(t, apptest.AdminToken, `{ users(first: 0, where: {disabled: true}) { totalCountIsExact } }`, nil).Decode(t, &only)
	require.True(t, only.Users.TotalCountIsExact)
}

// TestAdminActiveSessionsOfAPage: activeSessions of a page of users, or of
// a list of nodes, is read in one statement for all of them, and says the
// same as activeSessions of each user alone.
func TestAdminActiveSessionsOfAPage(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, CountQueries: true})
		var ids []string
		for _, name := range []string{"alice", "bob", "carol", "dave"} {
			l := e.Login(t, "", name)
			ids = append(ids, l.User.ID)
			if name == "alice" || name == "carol" {
				e.Clock.Advance(time.Minute)
				e.Login(t, "", name) // a second session
			}
		}
		apptest.Must(t, e.Do(t, apptest.AdminToken, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": ids[3]}))

		type node struct {
			ID             string
			ActiveSessions []struct{ ID string }
		}
		alone := map[string][]string{}
		for _, id := range ids {
			var out struct{ Node node }
			e.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { id ... on User { activeSessions { id } } } }`, map[string]any{"id": id}).Decode(t, &out)
			for _, s := range out.Node.ActiveSessions {
				alone[id] = append(alone[id], s.ID)
			}
		}
		require.Len(t, alone[ids[0]], 2)
		require.Len(t, alone[ids[1]], 1)
		require.Len(t, alone[ids[2]], 2)
		require.Empty(t, alone[ids[3]], "revoked sessions are not active")

		check := func(got []node) {
			t.Helper()
			require.Len(t, got, len(ids))
			for _, n := range got {
				var sids []string
				for _, s := range n.ActiveSessions {
					sids = append(sids, s.ID)
				}
				require.Equal(t, alone[n.ID], sids, "user %s", n.ID)
			}
		}
		e.Queries.Start()
		var page struct {
			Users struct{ Edges []struct{ Node node } }
		}
		e.Do(t, apptest.AdminToken, `{ users(first: 40) { edges { node { id activeSessions { id } } } } }`, nil).Decode(t, &page)
		n, stmts := e.Queries.Stop()
		require.Equal(t, 2, n, "the page and the sessions of all its users: %s", strings.Join(stmts, "\n"))
		var got []node
		for _, edge := range page.Users.Edges {
			got = append(got, edge.Node)
		}
		check(got)

		e.Queries.Start()
		var list struct{ Nodes []node }
		e.Do(t, apptest.AdminToken, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { activeSessions { id } } } }`, map[string]any{"ids": ids}).Decode(t, &list)
		n, stmts = e.Queries.Stop()
		require.Equal(t, 2, n, "%s", strings.Join(stmts, "\n"))
		check(list.Nodes)
	})
}
