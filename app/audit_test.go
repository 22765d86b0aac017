package app_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent/unionid"
	"github.com/wxid/wxid/internal/apptest"
)

// The audit trail (issue 14): events written with the changes they record,
// the admin auditEvents connection, node(id), actors and retention.

const supportToken = "support-token-0123456789abcdef"

type auditEvent struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	At          time.Time `json:"at"`
	UserID      *string   `json:"userId"`
	OtherUserID *string   `json:"otherUserId"`
	Actor       string    `json:"actor"`
	ClientIP    *string   `json:"clientIP"`
	NewUser     bool      `json:"newUser"`
	Count       *int      `json:"count"`
}

const auditFields = `id kind at userId otherUserId actor clientIP newUser count`

const auditQuery = `query($first: Int, $last: Int, $after: Cursor, $before: Cursor, $orderBy: AuditEventOrder, $where: AuditEventWhereInput) {
  auditEvents(first: $first, last: $last, after: $after, before: $before, orderBy: $orderBy, where: $where) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ` + auditFields + ` } }
  }
}`

type auditConnection struct {
	TotalCount int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
	Edges []struct {
		Node auditEvent `json:"node"`
	} `json:"edges"`
}

func (c auditConnection) events() []auditEvent {
	out := make([]auditEvent, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

func (c auditConnection) kinds() []string {
	out := make([]string, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node.Kind
	}
	return out
}

// listAudit runs auditQuery as admin, failing on errors.
func listAudit(t testing.TB, e *apptest.Env, vars map[string]any) auditConnection {
	t.Helper()
	var out struct{ AuditEvents auditConnection }
	e.Do(t, apptest.AdminToken, auditQuery, vars).Decode(t, &out)
	return out.AuditEvents
}

func userEvents(t testing.TB, e *apptest.Env, userID string) []auditEvent {
	t.Helper()
	return listAudit(t, e, map[string]any{"where": map[string]any{"userID": userID}}).events()
}

func newAuditEnv(t *testing.T, backend string) *apptest.Env {
	return apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL, Env: map[string]string{
		"WXID_ADMIN_TOKENS": apptest.AdminToken + ",support=" + supportToken,
	}})
}

func TestAuditTrail(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := newAuditEnv(t, backend)
		first := e.Login(t, "", "alice")
		require.True(t, first.IsNewUser)
		e.Clock.Advance(time.Second)
		second := e.Login(t, "", "alice")
		uid := first.User.ID

		evs := userEvents(t, e, uid)
		require.Len(t, evs, 2)
		for i, ev := range evs {
			require.Equal(t, "LOGIN", ev.Kind)
			require.Equal(t, "user:"+uid, ev.Actor)
			require.Equal(t, uid, *ev.UserID)
			require.NotNil(t, ev.ClientIP, "the login's client address")
			require.Equal(t, i == 0, ev.NewUser, "only the first login created the user")
			require.Nil(t, ev.OtherUserID)
		}
		require.True(t, evs[0].At.Before(evs[1].At), "oldest first")

		// Phone verified, then logout: each recorded with its actor.
		code := e.WeChat.PhoneCode(apptest.AppID, "alice", "+8613900139000", "86")
		apptest.Must(t, e.Do(t, second.Skey, phoneMutation, phoneVars("", "", code)))
		apptest.Must(t, e.Do(t, second.Skey, `mutation { logout }`, nil))
		evs = userEvents(t, e, uid)
		require.Len(t, evs, 4)
		require.Equal(t, "PHONE_VERIFIED", evs[2].Kind)
		require.Equal(t, "user:"+uid, evs[2].Actor)
		require.Equal(t, "LOGOUT", evs[3].Kind)
		require.Equal(t, 1, *evs[3].Count)
		// A second logout of the dead skey changes nothing, records nothing.
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, second.Skey, `mutation { logout }`, nil).Code())
		require.Len(t, userEvents(t, e, uid), 4)

		// Admin actions name the token by its label, never the token.
		before := e.Login(t, "", "alice")
		e.Clock.Advance(time.Second)
		r := e.Do(t, supportToken, `mutation($id: ID!) { disableUser(id: $id) { id } }`, map[string]any{"id": uid})
		apptest.Must(t, r)
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, before.Skey, `{ me { id } }`, nil).Code(), "disabling ended the session")
		apptest.Must(t, e.Do(t, apptest.AdminToken, `mutation($id: ID!) { enableUser(id: $id) { id } }`, map[string]any{"id": uid}))
		live := e.Login(t, "", "alice")
		var revoked struct{ RevokeUserSessions int }
		e.Do(t, supportToken, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": uid}).Decode(t, &revoked)
		require.Equal(t, 1, revoked.RevokeUserSessions)
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, live.Skey, `{ me { id } }`, nil).Code())

		c := listAudit(t, e, map[string]any{"where": map[string]any{"userID": uid, "kindIn": []string{"USER_DISABLED", "USER_ENABLED", "SESSION_REVOKED"}}})
		require.Equal(t, []string{"USER_DISABLED", "USER_ENABLED", "SESSION_REVOKED"}, c.kinds())
		evs = c.events()
		require.Equal(t, "admin:support", evs[0].Actor)
		require.Equal(t, 2, *evs[0].Count, "disabling ended the first login's and the live session")
		require.Equal(t, "admin:token-1", evs[1].Actor, "an unlabelled token is named by its position")
		require.Nil(t, evs[1].Count)
		require.Equal(t, "admin:support", evs[2].Actor)
		require.Equal(t, 1, *evs[2].Count)
		require.NotContains(t, e.Logs.String(), supportToken)

		// Filters: kind, time range, ordering, paging.
		logins := listAudit(t, e, map[string]any{"where": map[string]any{"kind": "LOGIN"}})
		require.Equal(t, 4, logins.TotalCount)
		newUsers := listAudit(t, e, map[string]any{"where": map[string]any{"kind": "LOGIN", "newUser": true}})
		require.Equal(t, 1, newUsers.TotalCount, "signups are the LOGIN events with newUser")
		at1 := evs[0].At
		since := listAudit(t, e, map[string]any{"where": map[string]any{"atGTE": at1.Format(time.RFC3339Nano)}})
		require.Equal(t, evs[0].ID, since.events()[0].ID)
		desc := listAudit(t, e, map[string]any{"orderBy": map[string]any{"field": "AT", "direction": "DESC"}, "first": 2})
		require.Len(t, desc.Edges, 2)
		require.Equal(t, "SESSION_REVOKED", desc.Edges[0].Node.Kind)
		require.True(t, desc.PageInfo.HasNextPage)
		next := listAudit(t, e, map[string]any{"orderBy": map[string]any{"field": "AT", "direction": "DESC"}, "first": 2, "after": *desc.PageInfo.EndCursor})
		require.Len(t, next.Edges, 2)
		require.False(t, next.Edges[0].Node.At.After(desc.Edges[1].Node.At))

		// node(id) resolves an event; users cannot read the trail.
		var node struct {
			Node struct {
				Typename string `json:"__typename"`
				Kind     string `json:"kind"`
			} `json:"node"`
		}
		e.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { __typename ... on AuditEvent { kind } } }`,
			map[string]any{"id": evs[0].ID}).Decode(t, &node)
		require.Equal(t, "AuditEvent", node.Node.Typename)
		require.Equal(t, "USER_DISABLED", node.Node.Kind)
		fresh := e.Login(t, "", "alice")
		one := map[string]any{"first": 1}
		require.Equal(t, "FORBIDDEN", e.Do(t, fresh.Skey, auditQuery, one).Code())
		require.Equal(t, "FORBIDDEN", e.Do(t, "", auditQuery, one).Code())
		require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", e.Do(t, apptest.AdminToken,
			`{ a: auditEvents { edges { node { `+auditFields+` } } } b: auditEvents { edges { node { `+auditFields+` } } }
			   c: auditEvents { edges { node { `+auditFields+` } } } d: auditEvents { edges { node { `+auditFields+` } } }
			   e: auditEvents { edges { node { `+auditFields+` } } } }`, nil).Code(), "aliased pages add up")

		// Bounds like the other admin connections.
		for _, vars := range []map[string]any{{"first": 101}, {"first": -1}, {"first": 1, "last": 1}, {"first": 1, "before": *desc.PageInfo.EndCursor}} {
			require.Equal(t, "BAD_USER_INPUT", e.Do(t, apptest.AdminToken, auditQuery, vars).Code(), "%v", vars)
		}
	})
}

// TestAuditUnionIDConflict: a login whose unionid another user holds is
// recorded on its LOGIN event, where an admin finds it.
func TestAuditUnionIDConflict(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := newAuditEnv(t, backend)
		bob := e.Login(t, "", "bob")
		ctx := context.Background()
		db := e.App.DB.Client
		// Support moved bob's unionid to another user by mistake.
		other, err := db.User.Create().Save(ctx)
		require.NoError(t, err)
		bobID, err := strconv.Atoi(bob.User.ID)
		require.NoError(t, err)
		_, err = db.UnionID.Update().Where(unionid.UserID(bobID)).SetUserID(other.ID).Save(ctx)
		require.NoError(t, err)

		again := e.Login(t, "", "bob")
		require.Equal(t, bob.User.ID, again.User.ID, "the openid still decides")
		c := listAudit(t, e, map[string]any{"where": map[string]any{"kind": "LOGIN", "otherUserIDNotNil": true}})
		require.Equal(t, 1, c.TotalCount)
		ev := c.events()[0]
		require.Equal(t, bob.User.ID, *ev.UserID)
		require.Equal(t, strconv.Itoa(other.ID), *ev.OtherUserID)
	})
}

// TestAuditRetention: events older than WXID_AUDIT_RETENTION are purged in
// batches; younger ones stay.
func TestAuditRetention(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Env: map[string]string{"WXID_AUDIT_RETENTION": "2d"}})
		for i := range 3 {
			e.Login(t, "", "carol"+strconv.Itoa(i))
		}
		e.Clock.Advance(36 * time.Hour)
		n, err := e.App.Audit.Purge(context.Background())
		require.NoError(t, err)
		require.Zero(t, n, "nothing is older than 2 days yet")
		e.Login(t, "", "dave")
		e.Clock.Advance(13 * time.Hour)
		n, err = e.App.Audit.Purge(context.Background())
		require.NoError(t, err)
		require.Equal(t, 3, n)
		c := listAudit(t, e, nil)
		require.Equal(t, 1, c.TotalCount, "dave's login is younger than the retention")
	})
}
