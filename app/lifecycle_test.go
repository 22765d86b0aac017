package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/internal/testenv"
)

// Account lifecycle (issue 14): the caller's devices, profile, erasure,
// export and merge. The audit trail is in audit_test.go.

type mySession struct {
	ID        string  `json:"id"`
	Current   bool    `json:"current"`
	CreatedAt string  `json:"createdAt"`
	ClientIP  *string `json:"clientIP"`
	UserAgent *string `json:"userAgent"`
}

const mySessionsQuery = `{ mySessions { id current createdAt expiresAt clientIP userAgent } }`

func mySessions(t testing.TB, e *apptest.Env, skey string) []mySession {
	t.Helper()
	var out struct{ MySessions []mySession }
	e.Do(t, skey, mySessionsQuery, nil).Decode(t, &out)
	return out.MySessions
}

// twoInstances starts two wxid instances on one MariaDB, each with its own
// memcached: what one revokes, the other learns only from the revocation
// feed.
func twoInstances(t *testing.T) (a, b *apptest.Env) {
	up := apptest.NewUpstream(t, apptest.NewClock())
	a = apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true, WeChat: up})
	b = apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcache: testenv.StartMemcached(t), WeChat: up, DatabaseURL: a.DatabaseURL})
	return a, b
}

// refusedEverywhere waits until every instance refuses skey.
func refusedEverywhere(t *testing.T, skey string, envs ...*apptest.Env) {
	t.Helper()
	for _, e := range envs {
		require.Eventually(t, func() bool {
			return e.Do(t, skey, `{ me { id } }`, nil).Code() == "UNAUTHENTICATED"
		}, 5*time.Second, 20*time.Millisecond)
	}
}

func TestMySessions(t *testing.T) {
	a, b := twoInstances(t)
	phone := a.Login(t, "", "alice")
	pad := a.Login(t, apptest.AppID2, "alice")
	laptop := b.Login(t, "", "alice")
	bob := b.Login(t, "", "bob")
	for _, e := range []*apptest.Env{a, b} { // every instance caches the skeys
		for _, skey := range []string{phone.Skey, pad.Skey, laptop.Skey} {
			require.Equal(t, phone.User.ID, meID(t, e, skey))
		}
		require.Equal(t, bob.User.ID, meID(t, e, bob.Skey))
	}

	got := mySessions(t, a, phone.Skey)
	require.Len(t, got, 3, "alice's three logins, not bob's")
	current := 0
	for _, s := range got {
		if s.Current {
			current++
		}
		require.NotNil(t, s.ClientIP)
	}
	require.Equal(t, 1, current, "exactly one session is the caller's")
	bobs := mySessions(t, b, bob.Skey)
	require.Len(t, bobs, 1)
	require.True(t, bobs[0].Current)
	// No skey anywhere in the answer.
	raw := string(a.Do(t, phone.Skey, mySessionsQuery, nil).Data)
	for _, skey := range []string{phone.Skey, pad.Skey, laptop.Skey} {
		require.NotContains(t, raw, skey)
	}
	require.Equal(t, "UNAUTHENTICATED", a.Do(t, "", mySessionsQuery, nil).Code())

	// Bob's session ID is as unknown to alice as a made-up one.
	revoke := `mutation($id: ID!) { revokeMySession(id: $id) }`
	for _, id := range []string{bobs[0].ID, "4294967295", "1"} {
		r := a.Do(t, phone.Skey, revoke, map[string]any{"id": id})
		require.Equal(t, "NOT_FOUND", r.Code(), id)
		require.Equal(t, "no live session of yours has this ID", r.Errors[0].Message)
	}
	require.Equal(t, bob.User.ID, meID(t, a, bob.Skey))

	// Alice ends her laptop's session from her phone on instance A; B, with
	// its own memcached, learns it from the revocation feed.
	laptopID := sessionIDOf(t, a, laptop.Skey)
	apptest.Must(t, a.Do(t, phone.Skey, revoke, map[string]any{"id": laptopID}))
	refusedEverywhere(t, laptop.Skey, a, b)
	require.Equal(t, "NOT_FOUND", a.Do(t, phone.Skey, revoke, map[string]any{"id": laptopID}).Code(), "already ended")
	require.Len(t, mySessions(t, b, phone.Skey), 2)

	// logoutEverywhere on B ends the rest, the caller's own included.
	var out struct{ LogoutEverywhere int }
	b.Do(t, pad.Skey, `mutation { logoutEverywhere }`, nil).Decode(t, &out)
	require.Equal(t, 2, out.LogoutEverywhere)
	refusedEverywhere(t, phone.Skey, a, b)
	refusedEverywhere(t, pad.Skey, a, b)
	require.Equal(t, bob.User.ID, meID(t, a, bob.Skey), "bob is untouched")

	kinds := []string{}
	for _, ev := range userEvents(t, a, phone.User.ID) {
		if ev.Kind != "LOGIN" {
			kinds = append(kinds, ev.Kind)
			require.Equal(t, "user:"+phone.User.ID, ev.Actor)
		}
	}
	require.Equal(t, []string{"SESSION_REVOKED", "LOGOUT"}, kinds)
}

// sessionIDOf returns the ID of the session skey belongs to, as its own
// mySessions marks it.
func sessionIDOf(t *testing.T, e *apptest.Env, skey string) string {
	t.Helper()
	for _, s := range mySessions(t, e, skey) {
		if s.Current {
			return s.ID
		}
	}
	t.Fatal("no current session")
	return ""
}

const updateProfile = `mutation($nickname: String, $avatarUrl: String) {
  updateProfile(input: {nickname: $nickname, avatarUrl: $avatarUrl}) { id nickname avatarUrl }
}`

type profileUser struct {
	ID        string  `json:"id"`
	Nickname  *string `json:"nickname"`
	AvatarURL *string `json:"avatarUrl"`
}

func TestUpdateProfile(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true, Env: map[string]string{"WXID_SESSION_TTL": "4h"}})
	e.WeChat.SetVerdict("赌博", "risky")
	e.WeChat.SetVerdict("擦边", "review")
	alice := e.Login(t, "", "alice")

	var out struct{ UpdateProfile profileUser }
	e.Do(t, alice.Skey, updateProfile, map[string]any{"nickname": "  小明 ❤️ ", "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/a/132"}).Decode(t, &out)
	require.Equal(t, "小明 ❤️", *out.UpdateProfile.Nickname)
	require.Equal(t, "https://thirdwx.qlogo.cn/mmopen/a/132", *out.UpdateProfile.AvatarURL)
	require.Equal(t, 1, e.WeChat.Count("msg_sec_check"))
	var me struct{ Me profileUser }
	e.Do(t, alice.Skey, `{ me { id nickname avatarUrl } }`, nil).Decode(t, &me)
	require.Equal(t, out.UpdateProfile, me.Me)

	// Risky: refused with a message the page can show; nothing changes.
	r := e.Do(t, alice.Skey, updateProfile, map[string]any{"nickname": "来赌博吧"})
	require.Equal(t, "BAD_USER_INPUT", r.Code())
	require.Equal(t, "this nickname is not allowed: choose another one", r.Errors[0].Message)
	// Review: accepted (documented), logged without the text.
	e.Do(t, alice.Skey, updateProfile, map[string]any{"nickname": "擦边球"}).Decode(t, &out)
	require.Equal(t, "擦边球", *out.UpdateProfile.Nickname)
	require.NotContains(t, e.Logs.String(), "擦边球")
	// Only the avatar: no content check, the nickname stays.
	checks := e.WeChat.Count("msg_sec_check")
	e.Do(t, alice.Skey, updateProfile, map[string]any{"avatarUrl": ""}).Decode(t, &out)
	require.Nil(t, out.UpdateProfile.AvatarURL, "an empty string clears it")
	require.Equal(t, "擦边球", *out.UpdateProfile.Nickname)
	require.Equal(t, checks, e.WeChat.Count("msg_sec_check"))

	for _, vars := range []map[string]any{
		{"avatarUrl": "http://example.com/a.png"},
		{"avatarUrl": "javascript:alert(1)"},
		{"nickname": "a\nb"},
		{"nickname": "   "},
		{"nickname": string(make([]rune, 33))},
	} {
		require.Equal(t, "BAD_USER_INPUT", e.Do(t, alice.Skey, updateProfile, vars).Code(), "%v", vars)
	}
	require.Equal(t, checks, e.WeChat.Count("msg_sec_check"), "invalid input never reaches WeChat")
	require.Equal(t, "UNAUTHENTICATED", e.Do(t, "", updateProfile, map[string]any{"nickname": "x"}).Code())

	// WeChat has not seen alice for over two hours (61010): log in again.
	e.Clock.Advance(3 * time.Hour)
	r = e.Do(t, alice.Skey, updateProfile, map[string]any{"nickname": "新名字"})
	require.Equal(t, "UNAUTHENTICATED", r.Code())
	require.Contains(t, r.Errors[0].Message, "wx.login()")
	again := e.Login(t, "", "alice")
	e.Do(t, again.Skey, updateProfile, map[string]any{"nickname": "新名字"}).Decode(t, &out)
	require.Equal(t, "新名字", *out.UpdateProfile.Nickname)

	var kinds []string
	for _, ev := range userEvents(t, e, alice.User.ID) {
		kinds = append(kinds, ev.Kind)
	}
	require.Equal(t, []string{"LOGIN", "PROFILE_UPDATED", "PROFILE_UPDATED", "PROFILE_UPDATED", "LOGIN", "PROFILE_UPDATED"}, kinds)
}
