package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/session"
)

// TestForgedSkeysCostNothing: skeys wxid did not issue, however well
// formed, are refused before any database read or cache write. An attacker
// sending random skeys spends their own work, not wxid's.
func TestForgedSkeysCostNothing(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true, CountQueries: true})
	e.Login(t, "", "alice") // a live user, so the tables are not empty
	writes := func() float64 {
		return counterValue(t, e, "wxid_cache_operations_total", map[string]string{"op": "set"}) +
			counterValue(t, e, "wxid_cache_operations_total", map[string]string{"op": "add"})
	}
	const n = 300
	before := writes()
	e.Queries.Start()
	for i := 0; i < n; i++ {
		b := make([]byte, 40)
		_, _ = rand.Read(b)
		skey := base64.RawURLEncoding.EncodeToString(b)
		require.Len(t, skey, session.TokenLen)
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, skey, `{ me { id } }`, nil).Code())
	}
	stmts, list := e.Queries.Stop()
	require.LessOrEqual(t, float64(stmts)/n, 0.1, "SQL statements per forged skey: %v", list)
	require.LessOrEqual(t, (writes()-before)/n, 0.1, "cache writes per forged skey")
}

// TestTamperedCacheEntries: whoever can write to memcached cannot make one
// skey answer as another user, nor edit an entry: such entries count as a
// miss and the database decides.
func TestTamperedCacheEntries(t *testing.T) {
	ctx := context.Background()
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	alice := e.Login(t, "", "alice")
	bob := e.Login(t, "", "bob")
	require.Equal(t, alice.User.ID, meID(t, e, alice.Skey))
	require.Equal(t, bob.User.ID, meID(t, e, bob.Skey))
	c := e.App.Cache
	aliceKey := session.CacheKey(session.Hash(alice.Skey))
	bobKey := session.CacheKey(session.Hash(bob.Skey))

	t.Run("alice's entry copied onto bob's key", func(t *testing.T) {
		entry, err := c.Get(ctx, aliceKey)
		require.NoError(t, err)
		require.NoError(t, c.Set(ctx, bobKey, entry, 0))
		require.Equal(t, bob.User.ID, meID(t, e, bob.Skey), "bob's skey must stay bob's")
		require.Equal(t, alice.User.ID, meID(t, e, alice.Skey))
	})
	t.Run("an entry edited to name another user", func(t *testing.T) {
		entry, err := c.Get(ctx, bobKey)
		require.NoError(t, err)
		edited := []byte(string(entry))
		edited[len(edited)-2] ^= 1 // somewhere in the JSON payload
		require.NoError(t, c.Set(ctx, bobKey, edited, 0))
		require.Equal(t, bob.User.ID, meID(t, e, bob.Skey))
	})
	t.Run("a plain JSON entry of the earlier format", func(t *testing.T) {
		require.NoError(t, c.Set(ctx, bobKey, []byte(`{"i":1,"u":1,"e":"2999-01-01T00:00:00Z","x":"2999-01-01T00:00:00Z"}`), 0))
		require.Equal(t, bob.User.ID, meID(t, e, bob.Skey))
	})
	t.Run("a forged tombstone does not log bob out", func(t *testing.T) {
		require.NoError(t, c.Set(ctx, bobKey, []byte("x"), 0))
		require.Equal(t, bob.User.ID, meID(t, e, bob.Skey))
	})
	t.Run("alice's entry replayed after her logout", func(t *testing.T) {
		other := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcache: e.Memcached, WeChat: e.WeChat, DatabaseURL: e.DatabaseURL})
		require.Equal(t, alice.User.ID, meID(t, other, alice.Skey))
		entry, err := c.Get(ctx, aliceKey)
		require.NoError(t, err)
		apptest.Must(t, e.Do(t, alice.Skey, `mutation { logout }`, nil))
		require.NoError(t, c.Set(ctx, aliceKey, entry, 0), "the attacker puts the live entry back")
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, alice.Skey, `{ me { id } }`, nil).Code())
		require.Eventually(t, func() bool {
			return other.Do(t, alice.Skey, `{ me { id } }`, nil).Code() == "UNAUTHENTICATED"
		}, 3*time.Second, 20*time.Millisecond, "the other instance learns the revocation from the feed")
	})
}

func meID(t *testing.T, e *apptest.Env, skey string) string {
	t.Helper()
	var out struct{ Me struct{ ID string } }
	apptest.Must(t, e.Do(t, skey, `{ me { id } }`, nil)).Decode(t, &out)
	return out.Me.ID
}

// TestAliasesCannotMultiplyDatabaseWork: root fields that touch the
// database are priced, so one request runs only a handful of them.
func TestAliasesCannotMultiplyDatabaseWork(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true, CountQueries: true})
	l := e.Login(t, "", "alice")
	const everyField = `{ id unionId phoneNumber purePhoneNumber countryCode openIds { appId openId } createdAt lastLoginAt }`

	e.Queries.Start()
	r := e.Do(t, l.Skey, aliased(100, "me "+everyField), nil)
	n, stmts := e.Queries.Stop()
	require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", r.Code())
	require.Zero(t, n, "refused before anything runs: %v", stmts)

	// A handful still works: a page may ask for me in a few fragments.
	apptest.Must(t, e.Do(t, l.Skey, aliased(3, "me "+everyField), nil))

	for _, m := range []string{"refreshSession { skey }", "logout", "login(input: {code: \"x\"}) { skey }"} {
		mutation := "mutation " + aliased(2, m)
		e.Queries.Start()
		r := e.Do(t, l.Skey, mutation, nil)
		n, stmts := e.Queries.Stop()
		require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", r.Code(), mutation)
		require.Zero(t, n, "%s: %v", mutation, stmts)
	}
	// One of each still works.
	var out struct{ RefreshSession struct{ Skey string } }
	apptest.Must(t, e.Do(t, l.Skey, `mutation { refreshSession { skey expiresAt } }`, nil)).Decode(t, &out)
	apptest.Must(t, e.Do(t, out.RefreshSession.Skey, `mutation { logout }`, nil))
}
