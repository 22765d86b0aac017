package app_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/phone"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/users"
)

// TestSecretKeyRotation follows the documented procedure: data sealed under
// key A keeps working after a restart with WXID_SECRET_KEY=B and
// WXID_SECRET_KEY_PREVIOUS=A, new data is sealed under B, and once A is
// dropped what only A could open fails cleanly.
func TestSecretKeyRotation(t *testing.T) {
	keyA, err := sealer.ParseKey(apptest.TestSecretKey)
	require.NoError(t, err)
	keyB := sealer.GenerateKey()
	b64 := base64.StdEncoding.EncodeToString

	before := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	shared := apptest.Options{
		Backend: apptest.MySQL, DatabaseURL: before.DatabaseURL, Memcache: before.Memcached, WeChat: before.WeChat,
	}
	alice := before.Login(t, "", "alice")
	bob := before.Login(t, "", "bob")
	successor := refresh(t, before, alice.Skey) // alice's old skey now holds its successor sealed under A

	// The sealed session_key on a user's row, and which keys open it.
	sealedKey := func(e *apptest.Env, user string) []byte {
		t.Helper()
		openID := e.WeChat.OpenID(apptest.AppID, user)
		row, err := e.App.DB.Client.OpenID.Query().Where(openid.Appid(apptest.AppID), openid.Openid(openID)).Only(context.Background())
		require.NoError(t, err)
		return row.SessionKey
	}
	opensUnder := func(key []byte, sealed []byte, user string) bool {
		s, err := sealer.New(key)
		require.NoError(t, err)
		_, err = s.Open(sealed, users.SessionKeyAAD(apptest.AppID, before.WeChat.OpenID(apptest.AppID, user)))
		return err == nil
	}
	require.True(t, opensUnder(keyA, sealedKey(before, "alice"), "alice"))

	// Restart with current=B, previous=A.
	rotate := shared
	rotate.Env = map[string]string{"WXID_SECRET_KEY": b64(keyB), "WXID_SECRET_KEY_PREVIOUS": b64(keyA)}
	rotated := apptest.New(t, rotate)
	requireMe(t, rotated, successor.Skey, alice.User.ID)
	requireMe(t, rotated, bob.Skey, bob.User.ID)
	require.Equal(t, successor.Skey, refresh(t, rotated, alice.Skey).Skey,
		"a successor sealed under the previous key is handed out again within the grace period")
	data, iv, err := rotated.WeChat.EncryptPhone(apptest.AppID, "alice", "+8613800138000", "86")
	require.NoError(t, err)
	require.Equal(t, "+8613800138000", decryptPhone(t, rotated, successor.Skey, phoneVars(data, iv, "")).PhoneNumber,
		"a session_key sealed under the previous key still opens")

	again := rotated.Login(t, "", "alice")
	require.False(t, again.IsNewUser)
	sealed := sealedKey(rotated, "alice")
	require.True(t, opensUnder(keyB, sealed, "alice"), "new data is sealed under the current key")
	require.False(t, opensUnder(keyA, sealed, "alice"))
	next := refresh(t, rotated, again.Skey)
	// Bob's new skey is signed under B; his session_key stays sealed under A.
	bobNext := refresh(t, rotated, bob.Skey)

	// Drop A: what was sealed under B works, what only A opens fails cleanly.
	drop := shared
	drop.Env = map[string]string{"WXID_SECRET_KEY": b64(keyB)}
	after := apptest.New(t, drop)
	require.Equal(t, next.Skey, refresh(t, after, again.Skey).Skey, "a successor sealed under B opens without A")
	data, iv, err = after.WeChat.EncryptPhone(apptest.AppID, "alice", "+8613800138001", "86")
	require.NoError(t, err)
	require.Equal(t, "+8613800138001", decryptPhone(t, after, next.Skey, phoneVars(data, iv, "")).PhoneNumber)

	data, iv, err = after.WeChat.EncryptPhone(apptest.AppID, "bob", "+8613800138002", "86")
	require.NoError(t, err)
	r := after.Do(t, bobNext.Skey, phoneMutation, phoneVars(data, iv, ""))
	require.Equal(t, "DECRYPT_FAILED", r.Code(), "bob's session_key was sealed only under A: %s", r.Body)
	require.Equal(t, phone.MsgDecryptFailed, r.Errors[0].Message)
	require.Contains(t, after.Logs.String(), "stored session key does not open")
	// An skey signed only under A stops once A is dropped: the procedure
	// keeps A listed for WXID_SESSION_MAX_AGE.
	require.Equal(t, "UNAUTHENTICATED", after.Do(t, bob.Skey, `{ me { id } }`, nil).Code())
}
