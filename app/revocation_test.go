package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/internal/testenv"
)

// TestRevocationSticksAcrossPartitions: three instances share MariaDB and
// memcached; instance A reaches memcached through a proxy the test cuts.
// A logout and an admin's disableUser on A, which cannot write the
// tombstones, stop the skeys on B and C within two seconds although their
// cache still holds the entries; a restart of A while memcached is still
// out of reach, and a new instance, forget nothing.
func TestRevocationSticksAcrossPartitions(t *testing.T) {
	mc := testenv.StartMemcached(t)
	up := apptest.NewUpstream(t, apptest.NewClock())
	b := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcache: mc, WeChat: up})
	shared := apptest.Options{Backend: apptest.MySQL, Memcache: mc, WeChat: up, DatabaseURL: b.DatabaseURL}
	c := apptest.New(t, shared)
	proxy := testenv.StartProxy(t, mc.Addr)
	viaProxy := shared
	viaProxy.Memcache = nil
	viaProxy.Env = map[string]string{"WXID_MEMCACHED": proxy.Addr}
	a := apptest.New(t, viaProxy)

	alice := b.Login(t, "", "alice")
	bob := b.Login(t, "", "bob")
	for _, e := range []*apptest.Env{a, b, c} {
		require.Equal(t, alice.User.ID, meID(t, e, alice.Skey))
		require.Equal(t, bob.User.ID, meID(t, e, bob.Skey))
	}

	proxy.Refuse()
	apptest.Must(t, a.Do(t, alice.Skey, `mutation { logout }`, nil))
	apptest.Must(t, a.Do(t, apptest.AdminToken, `mutation($id: ID!) { disableUser(id: $id) { id } }`, map[string]any{"id": bob.User.ID}))
	start := time.Now()
	for _, e := range []*apptest.Env{b, c} {
		for _, skey := range []string{alice.Skey, bob.Skey} {
			require.Eventually(t, func() bool {
				return e.Do(t, skey, `{ me { id } }`, nil).Code() == "UNAUTHENTICATED"
			}, 3*time.Second, 20*time.Millisecond)
		}
	}
	require.Less(t, time.Since(start), 2*time.Second+500*time.Millisecond, "every instance refuses the skeys within about two seconds")

	// A restarts while memcached is still out of its reach; a new instance
	// joins. Neither has seen the revocations happen.
	a.Server.Close()
	require.NoError(t, a.App.Close())
	a2 := apptest.New(t, viaProxy)
	d := apptest.New(t, shared)
	for _, e := range []*apptest.Env{a2, b, c, d} {
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, alice.Skey, `{ me { id } }`, nil).Code())
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, bob.Skey, `{ me { id } }`, nil).Code())
	}
	proxy.Heal()
	for _, e := range []*apptest.Env{a2, b, c, d} {
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, alice.Skey, `{ me { id } }`, nil).Code())
		require.Equal(t, "UNAUTHENTICATED", e.Do(t, bob.Skey, `{ me { id } }`, nil).Code())
	}
	// Alice logs in again: her new skey works everywhere.
	again := c.Login(t, "", "alice")
	for _, e := range []*apptest.Env{a2, b, c, d} {
		require.Equal(t, alice.User.ID, meID(t, e, again.Skey))
	}
}
