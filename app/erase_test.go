package app_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/unionid"
	"github.com/wxid/wxid/internal/apptest"
)

// dumpTables returns every row of every wxid table as text, one line per
// row, for searching what remains of a person.
func dumpTables(t *testing.T, e *apptest.Env) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"users", "open_ids", "union_ids", "sessions", "audit_events"} {
		rows, err := e.App.DB.SQL.QueryContext(context.Background(), "SELECT * FROM "+table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintf(&b, "%s:", table)
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, " %s=%v", cols[i], v)
			}
			b.WriteString("\n")
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	return b.String()
}

// TestDeleteMyAccount: account cancellation on MariaDB and memcached
// leaves nothing that identifies the person in any table, kills the skeys
// on every instance, and a later login is a new user.
func TestDeleteMyAccount(t *testing.T) {
	a, b := twoInstances(t)
	const agent = "AliceAgent/7.1 (iPhone; MicroMessenger)"
	ua := http.Header{"User-Agent": {agent}}
	login := func(e *apptest.Env, appID string) apptest.LoginResult {
		vars := map[string]any{"code": e.Code(t, appID, "alice"), "appId": appID}
		var out struct{ Login apptest.LoginResult }
		e.DoHeader(t, "", apptest.LoginMutation, vars, ua).Decode(t, &out)
		return out.Login
	}
	alice := login(a, apptest.AppID)
	alice2 := login(b, apptest.AppID2)
	require.Equal(t, alice.User.ID, alice2.User.ID)
	bob := a.Login(t, "", "bob")
	code := a.WeChat.PhoneCode(apptest.AppID, "alice", "+8613912345678", "86")
	apptest.Must(t, a.Do(t, alice.Skey, phoneMutation, phoneVars("", "", code)))
	apptest.Must(t, a.Do(t, alice.Skey, updateProfile, map[string]any{"nickname": "AliceNick", "avatarUrl": "https://cdn.example.com/alice-avatar.png"}))
	for _, e := range []*apptest.Env{a, b} {
		require.Equal(t, alice.User.ID, meID(t, e, alice.Skey))
		require.Equal(t, alice.User.ID, meID(t, e, alice2.Skey))
	}
	identifying := []string{"+8613912345678", "13912345678", alice.OpenID, alice2.OpenID, *alice.UnionID, "AliceNick", "alice-avatar", agent}
	before := dumpTables(t, a)
	for _, s := range identifying {
		require.Contains(t, before, s, "the test looks for what is really stored")
	}

	var out struct{ DeleteMyAccount bool }
	a.Do(t, alice.Skey, `mutation { deleteMyAccount }`, nil).Decode(t, &out)
	require.True(t, out.DeleteMyAccount)

	// Both skeys die on both instances; B has its own memcached and learns
	// from the revocation feed.
	refusedEverywhere(t, alice.Skey, a, b)
	refusedEverywhere(t, alice2.Skey, a, b)
	require.Equal(t, bob.User.ID, meID(t, b, bob.Skey), "bob is untouched")

	after := dumpTables(t, a)
	for _, s := range identifying {
		require.NotContains(t, after, s)
	}
	var aliceID int
	_, err := fmt.Sscan(alice.User.ID, &aliceID)
	require.NoError(t, err)
	rows, err := a.App.DB.SQL.QueryContext(context.Background(),
		"SELECT COUNT(*) FROM sessions WHERE user_id = ? AND (client_ip IS NOT NULL OR user_agent IS NOT NULL OR revoked_at IS NULL)", aliceID)
	require.NoError(t, err)
	require.True(t, rows.Next())
	var left int
	require.NoError(t, rows.Scan(&left))
	require.NoError(t, rows.Close())
	require.Zero(t, left, "alice's sessions are revoked and keep no client IP or user agent")
	evs := userEvents(t, a, alice.User.ID)
	deleted := listAudit(t, a, map[string]any{"where": map[string]any{"userID": alice.User.ID, "kind": "ACCOUNT_DELETED"}}).events()
	require.Len(t, deleted, 1)
	require.Equal(t, "user:"+alice.User.ID, deleted[0].Actor)
	require.Equal(t, 2, *deleted[0].Count)
	for _, ev := range evs {
		require.Nil(t, ev.ClientIP, "%s keeps no client IP", ev.Kind)
	}

	// The same WeChat account is a new user; the old ID stays dead.
	again := login(b, apptest.AppID)
	require.True(t, again.IsNewUser)
	require.NotEqual(t, alice.User.ID, again.User.ID)
	require.Equal(t, "NOT_FOUND", a.Do(t, apptest.AdminToken, `mutation($id: ID!) { enableUser(id: $id) { id } }`, map[string]any{"id": alice.User.ID}).Code(),
		"an erased user cannot be re-enabled")
	var node struct {
		Node struct {
			ErasedAt    *string `json:"erasedAt"`
			PhoneNumber *string `json:"phoneNumber"`
			Disabled    bool    `json:"disabled"`
			OpenIDs     []any   `json:"openIds"`
			UnionID     *string `json:"unionId"`
		} `json:"node"`
	}
	a.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { ... on User { erasedAt phoneNumber disabled unionId openIds { appId } } } }`,
		map[string]any{"id": alice.User.ID}).Decode(t, &node)
	require.NotNil(t, node.Node.ErasedAt)
	require.Nil(t, node.Node.PhoneNumber)
	require.Nil(t, node.Node.UnionID)
	require.True(t, node.Node.Disabled)
}

// TestEraseUser: the admin's erasure, and its errors.
func TestEraseUser(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	alice := e.Login(t, "", "alice")
	erase := `mutation($id: ID!) { eraseUser(id: $id) }`
	require.Equal(t, "FORBIDDEN", e.Do(t, alice.Skey, erase, map[string]any{"id": alice.User.ID}).Code())
	require.Equal(t, "NOT_FOUND", e.Do(t, apptest.AdminToken, erase, map[string]any{"id": "12884909999"}).Code())
	apptest.Must(t, e.Do(t, apptest.AdminToken, erase, map[string]any{"id": alice.User.ID}))
	require.Equal(t, "UNAUTHENTICATED", e.Do(t, alice.Skey, `{ me { id } }`, nil).Code())
	apptest.Must(t, e.Do(t, apptest.AdminToken, erase, map[string]any{"id": alice.User.ID}))
	evs := userEvents(t, e, alice.User.ID)
	last := evs[len(evs)-1]
	require.Equal(t, "USER_ERASED", last.Kind)
	require.Equal(t, "admin:token-1", last.Actor)
	require.True(t, e.Login(t, "", "alice").IsNewUser)
}

// TestEraseDuringLogins: logins of the same person racing its erasure end
// with the old user fully erased and at most one new user holding the
// WeChat identity; a login that got the old user has its skey revoked.
func TestEraseDuringLogins(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	ctx := context.Background()
	for round := range 4 {
		person := fmt.Sprintf("racer%d", round)
		first := e.Login(t, "", person)
		codes := make([]string, 6)
		for i := range codes {
			app := apptest.AppID
			if i%2 == 1 {
				app = apptest.AppID2 // found through the unionid
			}
			codes[i] = app + " " + e.Code(t, app, person)
		}
		results := make([]*apptest.Response, len(codes))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, c := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				app, code, _ := strings.Cut(c, " ")
				results[i] = e.Do(t, "", apptest.LoginMutation, map[string]any{"code": code, "appId": app})
			}()
		}
		var erased *apptest.Response
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			erased = e.Do(t, apptest.AdminToken, `mutation($id: ID!) { eraseUser(id: $id) }`, map[string]any{"id": first.User.ID})
		}()
		close(start)
		wg.Wait()
		apptest.Must(t, erased)

		newUsers, newIDs := 0, map[string]bool{}
		for _, r := range results {
			var out struct{ Login apptest.LoginResult }
			r.Decode(t, &out)
			l := out.Login
			if l.User.ID == first.User.ID {
				require.Equal(t, "UNAUTHENTICATED", e.Do(t, l.Skey, `{ me { id } }`, nil).Code(), "a login of the old user committed before the erasure, which revoked it")
				continue
			}
			newIDs[l.User.ID] = true
			if l.IsNewUser {
				newUsers++
			}
			require.Equal(t, l.User.ID, meID(t, e, l.Skey))
		}
		require.LessOrEqual(t, len(newIDs), 1, "one new user at most")
		require.Equal(t, len(newIDs), newUsers, "exactly one login created it")

		// Never half-erased: the old user holds no WeChat identity.
		var oldID int
		_, err := fmt.Sscan(first.User.ID, &oldID)
		require.NoError(t, err)
		db := e.App.DB.Client
		oids, err := db.OpenID.Query().Where(openid.UserID(oldID)).All(ctx)
		require.NoError(t, err)
		for _, o := range oids {
			require.True(t, strings.HasPrefix(o.Openid, "erased:"), o.Openid)
			require.Nil(t, o.SessionKey)
		}
		n, err := db.UnionID.Query().Where(unionid.UserID(oldID)).Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		u, err := db.User.Get(ctx, oldID)
		require.NoError(t, err)
		require.NotNil(t, u.ErasedAt)
		// The person logs in again and gets the one new user (or a first one).
		l := e.Login(t, apptest.AppID2, person)
		for id := range newIDs {
			require.Equal(t, id, l.User.ID)
		}
		require.NotEqual(t, first.User.ID, l.User.ID)
	}
}

// TestExportMyData: the export holds everything about the caller and no
// secret, and is recorded; the admin's exportUser is the same.
func TestExportMyData(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	alice := e.Login(t, "", "alice")
	alice2 := e.Login(t, apptest.AppID2, "alice")
	bob := e.Login(t, "", "bob")
	code := e.WeChat.PhoneCode(apptest.AppID, "alice", "+8613912345678", "86")
	apptest.Must(t, e.Do(t, alice.Skey, phoneMutation, phoneVars("", "", code)))
	apptest.Must(t, e.Do(t, alice.Skey, updateProfile, map[string]any{"nickname": "AliceNick"}))
	refreshed := e.Do(t, alice2.Skey, `mutation { refreshSession { skey } }`, nil)
	apptest.Must(t, refreshed)

	r := e.Do(t, alice.Skey, `{ exportMyData }`, nil)
	apptest.Must(t, r)
	raw := string(r.Data)
	var out struct {
		ExportMyData struct {
			User struct {
				ID          int     `json:"id"`
				PhoneNumber *string `json:"phoneNumber"`
				Nickname    *string `json:"nickname"`
			} `json:"user"`
			UnionID *string `json:"unionId"`
			OpenIDs []struct {
				AppID  string `json:"appId"`
				OpenID string `json:"openId"`
			} `json:"openIds"`
			Sessions []struct {
				ClientIP string `json:"clientIP"`
			} `json:"sessions"`
			AuditEvents []struct {
				Kind string `json:"kind"`
			} `json:"auditEvents"`
		}
	}
	r.Decode(t, &out)
	x := out.ExportMyData
	require.Equal(t, alice.User.ID, fmt.Sprint(x.User.ID))
	require.Equal(t, "+8613912345678", *x.User.PhoneNumber)
	require.Equal(t, "AliceNick", *x.User.Nickname)
	require.Equal(t, *alice.UnionID, *x.UnionID)
	require.Len(t, x.OpenIDs, 2)
	require.Equal(t, alice.OpenID, x.OpenIDs[0].OpenID)
	require.Len(t, x.Sessions, 3, "two logins and a rotation")
	require.NotEmpty(t, x.Sessions[0].ClientIP)
	require.NotEmpty(t, x.AuditEvents)
	// No secret: skeys, token hashes, session_keys, bob's data.
	var newSkey struct{ RefreshSession struct{ Skey string } }
	refreshed.Decode(t, &newSkey)
	for _, secret := range []string{alice.Skey, alice2.Skey, newSkey.RefreshSession.Skey,
		e.WeChat.SessionKey(apptest.AppID, "alice"), e.WeChat.SessionKey(apptest.AppID2, "alice"), bob.OpenID} {
		require.NotContains(t, raw, secret)
	}
	for _, field := range []string{"tokenHash", "token_hash", "sessionKey", "session_key", "successor", "family"} {
		require.NotContains(t, raw, field)
	}
	hashes, err := e.App.DB.SQL.QueryContext(context.Background(), "SELECT token_hash FROM sessions")
	require.NoError(t, err)
	for hashes.Next() {
		var h []byte
		require.NoError(t, hashes.Scan(&h))
		require.NotContains(t, raw, hex.EncodeToString(h))
	}
	require.NoError(t, hashes.Close())

	exported := listAudit(t, e, map[string]any{"where": map[string]any{"userID": alice.User.ID, "kind": "DATA_EXPORTED"}}).events()
	require.Len(t, exported, 1)
	require.Equal(t, "user:"+alice.User.ID, exported[0].Actor)

	// The admin's export of the same person; users cannot export others.
	var admin struct{ ExportUser json.RawMessage }
	e.Do(t, apptest.AdminToken, `mutation($id: ID!) { exportUser(id: $id) }`, map[string]any{"id": alice.User.ID}).Decode(t, &admin)
	require.Contains(t, string(admin.ExportUser), alice.OpenID)
	require.Equal(t, "FORBIDDEN", e.Do(t, bob.Skey, `mutation($id: ID!) { exportUser(id: $id) }`, map[string]any{"id": alice.User.ID}).Code())
	require.Equal(t, "NOT_FOUND", e.Do(t, apptest.AdminToken, `mutation($id: ID!) { exportUser(id: $id) }`, map[string]any{"id": "12884909999"}).Code())
	exported = listAudit(t, e, map[string]any{"where": map[string]any{"userID": alice.User.ID, "kind": "DATA_EXPORTED"}}).events()
	require.Len(t, exported, 2)
	require.Equal(t, "admin:token-1", exported[1].Actor)
	require.Equal(t, "UNAUTHENTICATED", e.Do(t, "", `{ exportMyData }`, nil).Code())
}

// TestMergeUsers: one person who became two users, with sessions live on
// both, becomes the kept user again.
func TestMergeUsers(t *testing.T) {
	a, b := twoInstances(t)
	// carol's two apps are on no common open platform from wxid's view:
	// AppNoUnion has no unionid, so her second account is a second user.
	keep := a.Login(t, "", "carol")
	merged := a.Login(t, apptest.AppNoUnion, "carol")
	require.NotEqual(t, keep.User.ID, merged.User.ID)
	code := a.WeChat.PhoneCode(apptest.AppNoUnion, "carol", "+8613700000000", "86")
	apptest.Must(t, a.Do(t, merged.Skey, phoneMutation, phoneVars("", "", code)))
	for _, e := range []*apptest.Env{a, b} {
		require.Equal(t, keep.User.ID, meID(t, e, keep.Skey))
		require.Equal(t, merged.User.ID, meID(t, e, merged.Skey))
	}

	mutation := `mutation($keep: ID!, $merge: ID!) { mergeUsers(keepId: $keep, mergeId: $merge) { id phoneNumber unionId openIds { appId openId } } }`
	var out struct{ MergeUsers adminUser }
	a.Do(t, apptest.AdminToken, mutation, map[string]any{"keep": keep.User.ID, "merge": merged.User.ID}).Decode(t, &out)
	require.Equal(t, keep.User.ID, out.MergeUsers.ID)
	require.Equal(t, "+8613700000000", *out.MergeUsers.PhoneNumber, "the kept user had no phone: the merged one's moves")
	require.Equal(t, *keep.UnionID, *out.MergeUsers.UnionID)
	require.Len(t, out.MergeUsers.OpenIDs, 2)

	// The merged user's skey dies everywhere; the kept user's lives on.
	refusedEverywhere(t, merged.Skey, a, b)
	for _, e := range []*apptest.Env{a, b} {
		require.Equal(t, keep.User.ID, meID(t, e, keep.Skey))
	}
	// Its ID no longer resolves; logging in with its openid gives the kept user.
	var node struct{ Node *struct{ ID string } }
	a.Do(t, apptest.AdminToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": merged.User.ID}).Decode(t, &node)
	require.Nil(t, node.Node)
	again := b.Login(t, apptest.AppNoUnion, "carol")
	require.Equal(t, keep.User.ID, again.User.ID)
	require.False(t, again.IsNewUser)

	evs := listAudit(t, a, map[string]any{"where": map[string]any{"kind": "USERS_MERGED"}}).events()
	require.Len(t, evs, 1)
	require.Equal(t, keep.User.ID, *evs[0].UserID)
	require.Equal(t, merged.User.ID, *evs[0].OtherUserID)
	require.Equal(t, 1, *evs[0].Count)

	// Refusals: the same user twice, a retired ID, different unionids.
	require.Equal(t, "BAD_USER_INPUT", a.Do(t, apptest.AdminToken, mutation, map[string]any{"keep": keep.User.ID, "merge": keep.User.ID}).Code())
	require.Equal(t, "NOT_FOUND", a.Do(t, apptest.AdminToken, mutation, map[string]any{"keep": keep.User.ID, "merge": merged.User.ID}).Code())
	dave := a.Login(t, "", "dave")
	r := a.Do(t, apptest.AdminToken, mutation, map[string]any{"keep": keep.User.ID, "merge": dave.User.ID})
	require.Equal(t, "BAD_USER_INPUT", r.Code())
	require.Contains(t, r.Errors[0].Message, "different unionids")
	require.Equal(t, dave.User.ID, meID(t, a, dave.Skey), "a refused merge changes nothing")
	require.Equal(t, "FORBIDDEN", a.Do(t, dave.Skey, mutation, map[string]any{"keep": keep.User.ID, "merge": dave.User.ID}).Code())
}
