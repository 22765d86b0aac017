package app_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/internal/apptest"
)

// introspectionQuery is graphql-js 16's getIntrospectionQuery(), what
// GraphiQL and code generators send.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// aliased repeats a users selection n times under different aliases.
func aliased(n int, selection string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " p%d: %s", i, selection)
	}
	b.WriteString(" }")
	return b.String()
}

const dashboardPage = `users(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {
  totalCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { ` + adminUserFields + ` } }
}`

func TestAdminLimits(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		users := seedUsers(t, e, 120, time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
		seedIdentities(t, e, users, func(int) bool { return true })

		ok := func(t *testing.T, query string, vars map[string]any) *apptest.Response {
			t.Helper()
			return apptest.Must(t, e.Do(t, apptest.AdminToken, query, vars))
		}
		refused := func(t *testing.T, code, query string, vars map[string]any) {
			t.Helper()
			r := e.Do(t, apptest.AdminToken, query, vars)
			require.Equal(t, code, r.Code(), r.Body)
			require.NotContains(t, r.Body, `"openId"`)
		}

		t.Run("a dashboard page fits", func(t *testing.T) {
			var out struct{ Users usersConnection }
			ok(t, "{ "+dashboardPage+" }", nil).Decode(t, &out)
			require.Len(t, out.Users.Edges, 100)
			require.Len(t, out.Users.Edges[0].Node.OpenIDs, 2)
			ok(t, aliased(2, dashboardPage), nil) // and a second one beside it
		})
		t.Run("aliased copies do not", func(t *testing.T) {
			refused(t, "COMPLEXITY_LIMIT_EXCEEDED", aliased(10, dashboardPage), nil)
			refused(t, "COMPLEXITY_LIMIT_EXCEEDED", aliased(3, dashboardPage), nil)
			refused(t, "COMPLEXITY_LIMIT_EXCEEDED", aliased(10, `users(first: 100) { edges { node { id openIds { appId openId } } } }`), nil)
			refused(t, "COMPLEXITY_LIMIT_EXCEEDED", aliasedNodes(5),
				map[string]any{"ids": nodeIDs(users[:100])})
		})
		t.Run("users keep the public limit", func(t *testing.T) {
			var b strings.Builder
			b.WriteString("{ me { id")
			for i := range 300 {
				fmt.Fprintf(&b, " o%d: openIds { appId }", i)
			}
			b.WriteString(" } }")
			l := e.Login(t, "", "alice")
			r := e.Do(t, l.Skey, b.String(), nil)
			require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", r.Code(), r.Body)
			require.Contains(t, r.Errors[0].Message, "exceeds the limit of 500")
			r = e.Do(t, apptest.AdminToken, b.String(), nil)
			require.Equal(t, "UNAUTHENTICATED", r.Code(), "within the admin limit: %s", r.Body)
		})
		t.Run("nodes", func(t *testing.T) {
			ok(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { `+adminUserFields+` } } }`, map[string]any{"ids": nodeIDs(users[:100])})
			refused(t, "BAD_USER_INPUT", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": nodeIDs(users[:101])})
		})
		t.Run("activeSessions reads once per user", func(t *testing.T) {
			ok(t, `{ users(first: 20) { edges { node { id activeSessions { id createdAt expiresAt clientIP userAgent } } } } }`, nil)
			refused(t, "COMPLEXITY_LIMIT_EXCEEDED", `{ users(first: 50) { edges { node { id activeSessions { id createdAt expiresAt clientIP userAgent } } } } }`, nil)
		})
		t.Run("page size", func(t *testing.T) {
			ok(t, usersQuery, map[string]any{"first": 100})
			ok(t, usersQuery, map[string]any{"last": 100})
			for _, vars := range []map[string]any{
				{"first": 101}, {"last": 101}, {"first": 1_000_000}, {"first": -1}, {"last": -1}, {"first": 10, "last": 10},
			} {
				r := e.Do(t, apptest.AdminToken, usersQuery, vars)
				require.Equal(t, "BAD_USER_INPUT", r.Code(), "%v: %s", vars, r.Body)
			}
			r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 101})
			require.Contains(t, r.Errors[0].Message, "between 0 and 100")
		})
		t.Run("depth", func(t *testing.T) {
			ok(t, `{ users(first: 1) { edges { node { openIds { appId } } } } }`, nil)
			ok(t, introspectionQuery, nil) // development: introspection on, and within the depth limit
			// gqlparser already refuses introspection that nests type lists
			// (fields, interfaces, ...) three deep; this nests them twice and
			// goes through args and types instead.
			deep := `{ __schema { directives { args { type { fields { args { type { fields { args { type { enumValues { name } } } } } } } } } } } }`
			refused(t, "QUERY_TOO_DEEP", deep, nil)
			refused(t, "QUERY_TOO_DEEP", `{ ...A } fragment A on Query { __schema { directives { ...B } } }
				fragment B on __Directive { args { type { fields { args { type { fields { args { type { ...C } } } } } } } } }
				fragment C on __Type { enumValues { name } }`, nil)
			r := e.Do(t, apptest.AdminToken, deep, nil)
			require.Contains(t, r.Errors[0].Message, "exceeds the limit of 10")
		})
	})
}

// aliasedNodes asks n times for the same 100 users through nodes.
func aliasedNodes(n int) string {
	var b strings.Builder
	b.WriteString("query($ids: [ID!]!) {")
	for i := range n {
		fmt.Fprintf(&b, " n%d: nodes(ids: $ids) { ... on User { %s } }", i, adminUserFields)
	}
	b.WriteString(" }")
	return b.String()
}

func nodeIDs(users []*ent.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = gqlID(u.ID)
	}
	return out
}

func TestAdminIntrospectionInProduction(t *testing.T) {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	e := apptest.New(t, apptest.Options{Env: map[string]string{
		"WXID_ENV":        "production",
		"WXID_SECRET_KEY": base64.StdEncoding.EncodeToString(key),
	}})
	require.False(t, e.App.Config.Introspection)

	for _, q := range []string{
		introspectionQuery,
		`{ __type(name: "User") { name } }`,
		`{ ...F } fragment F on Query { __schema { queryType { name } } }`,
	} {
		for _, token := range []string{"", apptest.AdminToken} {
			r := e.Do(t, token, q, nil)
			require.Equal(t, "INTROSPECTION_DISABLED", r.Code(), r.Body)
			require.NotContains(t, r.Body, "UserWhereInput")
		}
	}
	apptest.Must(t, e.Do(t, "", `{ __typename }`, nil))
	l := e.Login(t, "", "alice")
	requireMe(t, e, l.Skey, l.User.ID)
	apptest.Must(t, e.Do(t, apptest.AdminToken, "{ "+dashboardPage+" }", nil))
	require.NotContains(t, e.Logs.String(), "introspection disabled", "refused up front, not as an internal error")
}
