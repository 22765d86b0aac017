package app_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/internal/apptest"
)

// Admin API for dashboards (issue #5): authorization, the users
// connection, node/nodes, admin mutations. The limits are in
// admin_limits_test.go.

const adminUserFields = `id phoneNumber purePhoneNumber countryCode createdAt lastLoginAt disabled unionId openIds { appId openId }`

type adminUser struct {
	ID              string     `json:"id"`
	PhoneNumber     *string    `json:"phoneNumber"`
	PurePhoneNumber *string    `json:"purePhoneNumber"`
	CreatedAt       time.Time  `json:"createdAt"`
	LastLoginAt     *time.Time `json:"lastLoginAt"`
	Disabled        bool       `json:"disabled"`
	UnionID         *string    `json:"unionId"`
	OpenIDs         []struct {
		AppID  string `json:"appId"`
		OpenID string `json:"openId"`
	} `json:"openIds"`
}

type usersConnection struct {
	TotalCount int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
	Edges []struct {
		Cursor string    `json:"cursor"`
		Node   adminUser `json:"node"`
	} `json:"edges"`
}

func (c usersConnection) ids() []string {
	out := make([]string, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node.ID
	}
	return out
}

const usersQuery = `query($first: Int, $last: Int, $after: Cursor, $before: Cursor, $orderBy: UserOrder, $where: UserWhereInput) {
  users(first: $first, last: $last, after: $after, before: $before, orderBy: $orderBy, where: $where) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ` + adminUserFields + ` } }
  }
}`

// listUsers runs usersQuery as admin, failing on errors.
func listUsers(t testing.TB, e *apptest.Env, vars map[string]any) usersConnection {
	t.Helper()
	var out struct{ Users usersConnection }
	e.Do(t, apptest.AdminToken, usersQuery, vars).Decode(t, &out)
	return out.Users
}

func gqlID(id int) string { return strconv.Itoa(id) }

// seedUsers creates n users directly in the database. Creation times are
// whole seconds (MySQL keeps no fractions) from base, three users per
// second so that the id tie-breaker matters; every seventh user never
// logged in (last_login_at NULL) and the others logged in at times that
// do not follow creation, again with ties.
func seedUsers(t testing.TB, e *apptest.Env, n int, base time.Time) []*ent.User {
	t.Helper()
	ctx := context.Background()
	db := e.App.DB.Client
	var out []*ent.User
	for start := 0; start < n; start += 100 {
		var batch []*ent.UserCreate
		for i := start; i < min(start+100, n); i++ {
			c := db.User.Create().
				SetCreatedAt(base.Add(time.Duration(i/3) * time.Second)).
				SetUpdatedAt(base)
			if i%7 != 3 {
				c.SetLastLoginAt(base.Add(time.Hour + time.Duration((i*37)%50)*time.Minute))
			}
			batch = append(batch, c)
		}
		users, err := db.User.CreateBulk(batch...).Save(ctx)
		require.NoError(t, err)
		out = append(out, users...)
	}
	return out
}

// seedIdentities gives every user an openid in two apps and a unionid.
func seedIdentities(t testing.TB, e *apptest.Env, users []*ent.User, withUnionID func(i int) bool) {
	t.Helper()
	ctx := context.Background()
	db := e.App.DB.Client
	var openIDs []*ent.OpenIDCreate
	var unionIDs []*ent.UnionIDCreate
	for i, u := range users {
		for _, app := range []string{apptest.AppID, apptest.AppID2} {
			openIDs = append(openIDs, db.OpenID.Create().SetUserID(u.ID).SetAppid(app).SetOpenid(fmt.Sprintf("o-%s-%d", app, u.ID)))
		}
		if withUnionID(i) {
			unionIDs = append(unionIDs, db.UnionID.Create().SetUserID(u.ID).SetUnionid(fmt.Sprintf("u-%d", u.ID)))
		}
	}
	for chunk := range slices.Chunk(openIDs, 100) {
		require.NoError(t, db.OpenID.CreateBulk(chunk...).Exec(ctx))
	}
	for chunk := range slices.Chunk(unionIDs, 100) {
		require.NoError(t, db.UnionID.CreateBulk(chunk...).Exec(ctx))
	}
}

// sortedIDs orders users as the users connection must: by the order
// value (NULL first), then id, both in dir.
func sortedIDs(users []*ent.User, field, dir string) []string {
	key := func(u *ent.User) *time.Time {
		switch field {
		case "CREATED_AT":
			return &u.CreatedAt
		case "LAST_LOGIN_AT":
			return u.LastLoginAt
		}
		return nil
	}
	s := slices.Clone(users)
	slices.SortFunc(s, func(a, b *ent.User) int {
		ka, kb := key(a), key(b)
		c := 0
		switch {
		case ka == nil && kb != nil:
			c = -1
		case ka != nil && kb == nil:
			c = 1
		case ka != nil && kb != nil:
			c = ka.Compare(*kb)
		}
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		if dir == "DESC" {
			c = -c
		}
		return c
	})
	out := make([]string, len(s))
	for i, u := range s {
		out[i] = gqlID(u.ID)
	}
	return out
}

func TestAdminAuthorization(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		alice := e.Login(t, "", "alice")
		bob := e.Login(t, "", "bob")
		carol := e.Login(t, "", "carol") // the mutations' target
		aliceID, bobID, carolID := alice.User.ID, bob.User.ID, carol.User.ID

		const (
			anonymous = "anonymous"
			user      = "user"
			stranger  = "wrong token"
			admin     = "admin"
		)
		tokens := map[string]string{
			anonymous: "",
			user:      alice.Skey,
			stranger:  apptest.AdminToken + "-not-quite",
			admin:     apptest.AdminToken,
		}
		fields := []struct {
			name  string
			query string
			vars  map[string]any
		}{
			{"users", `{ users(first: 5) { totalCount edges { node { id } } } }`, nil},
			{"node (another user)", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": bobID}},
			{"node (itself)", `query($id: ID!) { node(id: $id) { id ... on User { openIds { openId } } } }`, map[string]any{"id": aliceID}},
			{"nodes", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{aliceID, bobID}}},
			{"User.activeSessions", `query($id: ID!) { node(id: $id) { ... on User { activeSessions { id } } } }`, map[string]any{"id": bobID}},
			{"enableUser", `mutation($id: ID!) { enableUser(id: $id) { id disabled } }`, map[string]any{"id": carolID}},
			{"revokeUserSessions", `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": carolID}},
			// Last: carol cannot log in after it.
			{"disableUser", `mutation($id: ID!) { disableUser(id: $id) { id disabled } }`, map[string]any{"id": carolID}},
		}
		for _, f := range fields {
			t.Run(f.name, func(t *testing.T) {
				target := e.Login(t, "", "carol")
				for _, caller := range []string{anonymous, user, stranger} {
					r := e.Do(t, tokens[caller], f.query, f.vars)
					require.Equal(t, "FORBIDDEN", r.Code(), "%s: %s", caller, r.Body)
					require.NotContains(t, string(r.Data), `"id"`, "%s: no data", caller)
				}
				// Nothing happened: every user still works.
				requireMe(t, e, alice.Skey, aliceID)
				requireMe(t, e, bob.Skey, bobID)
				requireMe(t, e, target.Skey, carolID)

				apptest.Must(t, e.Do(t, tokens[admin], f.query, f.vars))
			})
		}
		require.Equal(t, "FORBIDDEN", e.LoginResponse(t, "", "carol").Code(), "the admin disabled carol")

		t.Run("User.activeSessions through me", func(t *testing.T) {
			l := e.Login(t, "", "erin")
			r := e.Do(t, l.Skey, `{ me { id activeSessions { id } } }`, nil)
			require.Equal(t, "FORBIDDEN", r.Code(), r.Body)
			require.Equal(t, []any{"me", "activeSessions"}, r.Errors[0].Path)
			requireMe(t, e, l.Skey, l.User.ID) // the rest of me works
		})
		t.Run("User.activeSessions through login", func(t *testing.T) {
			r := e.Do(t, "", `mutation($code: String!) { login(input: {code: $code}) { user { id activeSessions { id } } } }`,
				map[string]any{"code": e.Code(t, apptest.AppID, "dave")})
			require.Equal(t, "FORBIDDEN", r.Code(), r.Body)
		})
		t.Run("an admin token is not a user", func(t *testing.T) {
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, apptest.AdminToken, `{ me { id } }`, nil).Code())
		})
		t.Run("admin tokens are never logged", func(t *testing.T) {
			require.NotContains(t, e.Logs.String(), apptest.AdminToken)
		})
	})
}

func TestAdminUsersPagination(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		const n = 301
		seeded := seedUsers(t, e, n, base)

		orders := []struct{ field, dir string }{
			{"", ""}, {"CREATED_AT", "ASC"}, {"CREATED_AT", "DESC"}, {"LAST_LOGIN_AT", "ASC"}, {"LAST_LOGIN_AT", "DESC"},
		}
		for _, o := range orders {
			name := "default"
			vars := map[string]any{}
			if o.field != "" {
				name = o.field + " " + o.dir
				vars["orderBy"] = map[string]any{"field": o.field, "direction": o.dir}
			}
			want := sortedIDs(seeded, o.field, o.dir)
			t.Run(name, func(t *testing.T) {
				for _, size := range []int{1, 37, 100} {
					if size == 1 && o.field != "LAST_LOGIN_AT" {
						continue // 301 requests a walk: kept for the order with NULLs, a cursor on each
					}
					require.Equal(t, want, walkForward(t, e, vars, size), "forward by %d", size)
					require.Equal(t, want, walkBackward(t, e, vars, size), "backward by %d", size)
				}
				t.Run("windows between two cursors", func(t *testing.T) {
					page := listUsers(t, e, with(vars, "first", 100))
					after, before := page.Edges[9].Cursor, page.Edges[60].Cursor // want[10:60]
					c := listUsers(t, e, with(vars, "first", 20, "after", after, "before", before))
					require.Equal(t, want[10:30], c.ids())
					require.True(t, c.PageInfo.HasNextPage)
					require.True(t, c.PageInfo.HasPreviousPage)
					c = listUsers(t, e, with(vars, "last", 20, "after", after, "before", before))
					require.Equal(t, want[40:60], c.ids())
					require.True(t, c.PageInfo.HasNextPage)
					require.True(t, c.PageInfo.HasPreviousPage)
					c = listUsers(t, e, with(vars, "first", 100, "after", after, "before", before))
					require.Equal(t, want[10:60], c.ids())
					require.Equal(t, n, c.TotalCount, "totalCount ignores cursors")
				})
			})
		}

		t.Run("default page size", func(t *testing.T) {
			c := listUsers(t, e, nil)
			require.Len(t, c.Edges, 100)
			require.True(t, c.PageInfo.HasNextPage)
			require.Equal(t, n, c.TotalCount)
		})
		t.Run("first 0", func(t *testing.T) {
			c := listUsers(t, e, map[string]any{"first": 0})
			require.Empty(t, c.Edges)
			require.Equal(t, n, c.TotalCount)
		})
		t.Run("a cursor of another order", func(t *testing.T) {
			c := listUsers(t, e, map[string]any{"first": 1})
			r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{
				"first": 1, "after": *c.PageInfo.EndCursor,
				"orderBy": map[string]any{"field": "CREATED_AT", "direction": "ASC"},
			})
			require.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
		})
		t.Run("a malformed cursor", func(t *testing.T) {
			r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 1, "after": "not a cursor"})
			require.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
			require.Equal(t, "null", string(r.Data))
		})
		t.Run("other arguments that do not coerce", func(t *testing.T) {
			for _, q := range []struct {
				query string
				vars  map[string]any
			}{
				{`{ node(id: "abc") { id } }`, nil},
				{`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": "xyz"}},
				{`{ users(where: {createdAtGT: "yesterday"}) { totalCount } }`, nil},
				{`mutation { disableUser(id: "1e9x") { id } }`, nil},
			} {
				r := e.Do(t, apptest.AdminToken, q.query, q.vars)
				require.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
				require.NotContains(t, e.Logs.String(), "level=ERROR", "a client's mistake is no server error")
			}
		})
	})
}

// with returns a copy of vars with the key/value pairs kv added.
func with(vars map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(vars)+len(kv)/2)
	for k, v := range vars {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// walkForward pages with first/after until hasNextPage is false.
func walkForward(t *testing.T, e *apptest.Env, vars map[string]any, size int) []string {
	t.Helper()
	var ids []string
	var after any
	for page := 0; ; page++ {
		c := listUsers(t, e, with(vars, "first", size, "after", after))
		require.LessOrEqual(t, len(c.Edges), size)
		require.Equal(t, page > 0, c.PageInfo.HasPreviousPage)
		if len(c.Edges) > 0 {
			require.Equal(t, c.Edges[0].Cursor, *c.PageInfo.StartCursor)
			require.Equal(t, c.Edges[len(c.Edges)-1].Cursor, *c.PageInfo.EndCursor)
		}
		ids = append(ids, c.ids()...)
		if !c.PageInfo.HasNextPage {
			return ids
		}
		require.Len(t, c.Edges, size)
		after = *c.PageInfo.EndCursor
	}
}

// walkBackward pages with last/before until hasPreviousPage is false.
func walkBackward(t *testing.T, e *apptest.Env, vars map[string]any, size int) []string {
	t.Helper()
	var ids []string
	var before any
	for page := 0; ; page++ {
		c := listUsers(t, e, with(vars, "last", size, "before", before))
		require.LessOrEqual(t, len(c.Edges), size)
		require.Equal(t, page > 0, c.PageInfo.HasNextPage)
		ids = append(c.ids(), ids...)
		if !c.PageInfo.HasPreviousPage {
			return ids
		}
		require.Len(t, c.Edges, size)
		before = *c.PageInfo.StartCursor
	}
}

func TestAdminUsersFilters(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		t0 := e.Clock.Now()
		alice := e.Login(t, "", "alice")
		aliceApp2 := e.Login(t, apptest.AppID2, "alice") // same person, second app
		require.Equal(t, alice.User.ID, aliceApp2.User.ID)
		e.Clock.Advance(time.Hour)
		bob := e.Login(t, apptest.AppNoUnion, "bob") // no unionid
		e.Clock.Advance(time.Hour)
		carol := e.Login(t, "", "carol")
		require.NotNil(t, alice.UnionID)
		require.Nil(t, bob.UnionID)

		aliceID, err := strconv.Atoi(alice.User.ID)
		require.NoError(t, err)
		require.NoError(t, e.App.DB.Client.User.UpdateOneID(aliceID).
			SetPhoneNumber("+8613800138000").SetPurePhoneNumber("13800138000").SetCountryCode("86").
			Exec(context.Background()))
		apptest.Must(t, e.Do(t, apptest.AdminToken, `mutation($id: ID!) { disableUser(id: $id) { id } }`, map[string]any{"id": carol.User.ID}))

		tests := []struct {
			name  string
			where map[string]any
			want  []string
		}{
			{"phone number", map[string]any{"phoneNumber": "+8613800138000"}, []string{alice.User.ID}},
			{"pure phone number", map[string]any{"purePhoneNumber": "13800138000"}, []string{alice.User.ID}},
			{"phone prefix", map[string]any{"phoneNumberHasPrefix": "+86138"}, []string{alice.User.ID}},
			{"no phone number", map[string]any{"phoneNumberIsNil": true}, []string{bob.User.ID, carol.User.ID}},
			{"openid", map[string]any{"hasOpenIdsWith": []any{map[string]any{"openid": bob.OpenID}}}, []string{bob.User.ID}},
			{"openid in an app", map[string]any{"hasOpenIdsWith": []any{map[string]any{"appid": apptest.AppID2, "openid": aliceApp2.OpenID}}}, []string{alice.User.ID}},
			{"openid of another app", map[string]any{"hasOpenIdsWith": []any{map[string]any{"appid": apptest.AppID, "openid": aliceApp2.OpenID}}}, []string{}},
			{"any openid in an app", map[string]any{"hasOpenIdsWith": []any{map[string]any{"appid": apptest.AppID}}}, []string{alice.User.ID, carol.User.ID}},
			{"unionid", map[string]any{"hasUnionIDWith": []any{map[string]any{"unionid": *alice.UnionID}}}, []string{alice.User.ID}},
			{"without unionid", map[string]any{"hasUnionID": false}, []string{bob.User.ID}},
			{"created in a range", map[string]any{
				"createdAtGTE": t0.Add(30 * time.Minute).Format(time.RFC3339Nano),
				"createdAtLT":  t0.Add(90 * time.Minute).Format(time.RFC3339Nano),
			}, []string{bob.User.ID}},
			{"created since", map[string]any{"createdAtGTE": t0.Add(30 * time.Minute).Format(time.RFC3339Nano)}, []string{bob.User.ID, carol.User.ID}},
			{"disabled", map[string]any{"disabled": true}, []string{carol.User.ID}},
			{"enabled", map[string]any{"disabled": false}, []string{alice.User.ID, bob.User.ID}},
			{"or", map[string]any{"or": []any{
				map[string]any{"phoneNumber": "+8613800138000"},
				map[string]any{"disabled": true},
			}}, []string{alice.User.ID, carol.User.ID}},
			{"not", map[string]any{"not": map[string]any{"disabled": true}, "hasUnionID": true}, []string{alice.User.ID}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := listUsers(t, e, map[string]any{"first": 10, "where": tc.where})
				require.Equal(t, tc.want, c.ids())
				require.Equal(t, len(tc.want), c.TotalCount)
			})
		}

		t.Run("the found user", func(t *testing.T) {
			c := listUsers(t, e, map[string]any{"first": 1, "where": map[string]any{"hasUnionIDWith": []any{map[string]any{"unionid": *alice.UnionID}}}})
			u := c.Edges[0].Node
			require.Equal(t, "+8613800138000", *u.PhoneNumber)
			require.Equal(t, *alice.UnionID, *u.UnionID)
			require.Len(t, u.OpenIDs, 2)
			require.Equal(t, apptest.AppID, u.OpenIDs[0].AppID)
			require.Equal(t, alice.OpenID, u.OpenIDs[0].OpenID)
			require.Equal(t, apptest.AppID2, u.OpenIDs[1].AppID)
			require.Equal(t, aliceApp2.OpenID, u.OpenIDs[1].OpenID)
			require.NotNil(t, u.LastLoginAt)
		})

		t.Run("orders by real logins", func(t *testing.T) {
			e.Clock.Advance(time.Hour)
			e.Login(t, apptest.AppNoUnion, "bob")
			newest := listUsers(t, e, map[string]any{"first": 3, "orderBy": map[string]any{"field": "CREATED_AT", "direction": "DESC"}})
			require.Equal(t, []string{carol.User.ID, bob.User.ID, alice.User.ID}, newest.ids())
			recent := listUsers(t, e, map[string]any{"first": 3, "orderBy": map[string]any{"field": "LAST_LOGIN_AT", "direction": "DESC"}})
			require.Equal(t, []string{bob.User.ID, carol.User.ID, alice.User.ID}, recent.ids())
			oldest := listUsers(t, e, map[string]any{"last": 1, "orderBy": map[string]any{"field": "LAST_LOGIN_AT", "direction": "DESC"}})
			require.Equal(t, []string{alice.User.ID}, oldest.ids())
		})

		t.Run("an empty where", func(t *testing.T) {
			c := listUsers(t, e, map[string]any{"where": map[string]any{}})
			require.Equal(t, 3, c.TotalCount)
		})
	})
}

func TestAdminNodes(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		alice := e.Login(t, "", "alice")
		e.Login(t, apptest.AppID2, "alice")
		bob := e.Login(t, apptest.AppNoUnion, "bob")

		var one struct{ Node *adminUser }
		e.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { ... on User { `+adminUserFields+` } } }`,
			map[string]any{"id": alice.User.ID}).Decode(t, &one)
		require.Equal(t, alice.User.ID, one.Node.ID)
		require.Len(t, one.Node.OpenIDs, 2)
		require.Equal(t, *alice.UnionID, *one.Node.UnionID)

		var many struct {
			Nodes []*struct {
				Typename string `json:"__typename"`
				adminUser
			}
		}
		const unknown = "12884999999" // in the users' ID range, but no such user
		e.Do(t, apptest.AdminToken, `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on User { `+adminUserFields+` } } }`,
			map[string]any{"ids": []string{bob.User.ID, unknown, alice.User.ID, bob.User.ID, "1"}}).Decode(t, &many)
		require.Len(t, many.Nodes, 5)
		require.Equal(t, bob.User.ID, many.Nodes[0].ID)
		require.Nil(t, many.Nodes[0].UnionID)
		require.Len(t, many.Nodes[0].OpenIDs, 1)
		require.Nil(t, many.Nodes[1])
		require.Equal(t, alice.User.ID, many.Nodes[2].ID)
		require.Len(t, many.Nodes[2].OpenIDs, 2)
		require.Equal(t, bob.User.ID, many.Nodes[3].ID)
		require.Nil(t, many.Nodes[4], "an openid row is not a node")

		var missing struct{ Node *adminUser }
		e.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": unknown}).Decode(t, &missing)
		require.Nil(t, missing.Node)

		t.Run("sessions are nodes", func(t *testing.T) {
			var s struct {
				Node struct {
					ActiveSessions []struct{ ID string }
				}
			}
			e.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { ... on User { activeSessions { id } } } }`,
				map[string]any{"id": bob.User.ID}).Decode(t, &s)
			require.Len(t, s.Node.ActiveSessions, 1)
			var n struct {
				Node struct {
					Typename  string `json:"__typename"`
					ID        string
					ExpiresAt time.Time
				}
			}
			e.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { __typename id ... on Session { expiresAt } } }`,
				map[string]any{"id": s.Node.ActiveSessions[0].ID}).Decode(t, &n)
			require.Equal(t, "Session", n.Node.Typename)
			require.Equal(t, s.Node.ActiveSessions[0].ID, n.Node.ID)
			require.False(t, n.Node.ExpiresAt.IsZero())
		})
	})
}

func TestAdminUserMutations(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		alice := e.Login(t, "", "alice")
		alice2 := e.Login(t, apptest.AppID2, "alice")
		bob := e.Login(t, "", "bob")

		sessions := func(id string) int {
			var out struct {
				Node struct{ ActiveSessions []struct{ ID string } }
			}
			e.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { ... on User { activeSessions { id } } } }`,
				map[string]any{"id": id}).Decode(t, &out)
			return len(out.Node.ActiveSessions)
		}
		require.Equal(t, 2, sessions(alice.User.ID))

		t.Run("disable", func(t *testing.T) {
			var out struct{ DisableUser adminUser }
			e.Do(t, apptest.AdminToken, `mutation($id: ID!) { disableUser(id: $id) { `+adminUserFields+` } }`,
				map[string]any{"id": alice.User.ID}).Decode(t, &out)
			require.True(t, out.DisableUser.Disabled)
			require.Len(t, out.DisableUser.OpenIDs, 2)

			requireUnauthenticated(t, e, alice.Skey)
			requireUnauthenticated(t, e, alice2.Skey)
			require.Equal(t, "UNAUTHENTICATED", e.Do(t, alice.Skey, refreshMutation, nil).Code())
			require.Equal(t, "FORBIDDEN", e.LoginResponse(t, "", "alice").Code())
			require.Equal(t, 0, sessions(alice.User.ID))
			requireMe(t, e, bob.Skey, bob.User.ID)

			c := listUsers(t, e, map[string]any{"where": map[string]any{"disabled": true}})
			require.Equal(t, []string{alice.User.ID}, c.ids())

			// Disabling twice is fine.
			apptest.Must(t, e.Do(t, apptest.AdminToken, `mutation($id: ID!) { disableUser(id: $id) { id } }`, map[string]any{"id": alice.User.ID}))
		})
		t.Run("enable", func(t *testing.T) {
			var out struct{ EnableUser adminUser }
			e.Do(t, apptest.AdminToken, `mutation($id: ID!) { enableUser(id: $id) { id disabled } }`,
				map[string]any{"id": alice.User.ID}).Decode(t, &out)
			require.False(t, out.EnableUser.Disabled)
			requireUnauthenticated(t, e, alice.Skey) // old sessions stay revoked
			again := e.Login(t, "", "alice")
			require.False(t, again.IsNewUser)
			requireMe(t, e, again.Skey, alice.User.ID)
			require.Equal(t, 1, sessions(alice.User.ID))
		})
		t.Run("revoke sessions", func(t *testing.T) {
			b2 := e.Login(t, apptest.AppID2, "bob")
			require.Equal(t, 2, sessions(bob.User.ID))
			var out struct{ RevokeUserSessions int }
			e.Do(t, apptest.AdminToken, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": bob.User.ID}).Decode(t, &out)
			require.Equal(t, 2, out.RevokeUserSessions)
			requireUnauthenticated(t, e, bob.Skey)
			requireUnauthenticated(t, e, b2.Skey)
			require.Equal(t, 0, sessions(bob.User.ID))
			requireMe(t, e, e.Login(t, "", "bob").Skey, bob.User.ID) // bob may log in again
		})
		t.Run("unknown user", func(t *testing.T) {
			for _, m := range []string{
				`mutation($id: ID!) { disableUser(id: $id) { id } }`,
				`mutation($id: ID!) { enableUser(id: $id) { id } }`,
				`mutation($id: ID!) { revokeUserSessions(userId: $id) }`,
			} {
				r := e.Do(t, apptest.AdminToken, m, map[string]any{"id": "12884999999"})
				require.Equal(t, "NOT_FOUND", r.Code(), r.Body)
			}
		})
	})
}

// TestAdminUsersQueryCount: a page of users with their openIds and
// unionId costs the same few statements whatever its size: COUNT, the
// page, the openids, the unionids.
func TestAdminUsersQueryCount(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, CountQueries: true})
		q := e.Queries
		users := seedUsers(t, e, 150, time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
		seedIdentities(t, e, users, func(int) bool { return true })

		count := func(query string, vars map[string]any) (int, []string) {
			q.Start()
			apptest.Must(t, e.Do(t, apptest.AdminToken, query, vars))
			return q.Stop()
		}
		for _, size := range []int{1, 10, 100} {
			n, stmts := count(usersQuery, map[string]any{"first": size})
			require.Equal(t, 4, n, "page of %d: %s", size, strings.Join(stmts, "\n"))
			n, stmts = count(usersQuery, map[string]any{"last": size, "orderBy": map[string]any{"field": "LAST_LOGIN_AT", "direction": "DESC"}})
			require.Equal(t, 4, n, "page of %d: %s", size, strings.Join(stmts, "\n"))
		}

		ids := make([]string, 100)
		for i := range ids {
			ids[i] = gqlID(users[i].ID)
		}
		n, stmts := count(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { unionId openIds { appId openId } } } }`, map[string]any{"ids": ids})
		require.Equal(t, 3, n, "nodes: %s", strings.Join(stmts, "\n"))
		n, stmts = count(`query($id: ID!) { node(id: $id) { id ... on User { unionId openIds { appId openId } } } }`, map[string]any{"id": ids[0]})
		require.Equal(t, 3, n, "node: %s", strings.Join(stmts, "\n"))

		t.Run("users without a unionid", func(t *testing.T) {
			more := seedUsers(t, e, 50, time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC))
			seedIdentities(t, e, more, func(i int) bool { return i%2 == 0 })
			n, stmts := count(usersQuery, map[string]any{"first": 50, "orderBy": map[string]any{"field": "CREATED_AT", "direction": "DESC"}})
			require.Equal(t, 4, n, "%s", strings.Join(stmts, "\n"))
		})

		// Without the edges in the selection, they are not loaded.
		n, stmts = count(`{ users(first: 100) { edges { node { id createdAt } } } }`, nil)
		require.Equal(t, 1, n, "%s", strings.Join(stmts, "\n"))
		n, stmts = count(`{ users { totalCount } }`, nil)
		require.Equal(t, 1, n, "%s", strings.Join(stmts, "\n"))
	})
}
