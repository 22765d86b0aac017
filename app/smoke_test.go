package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
)

func TestSmokeLoginMe(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend, Memcached: backend == apptest.MySQL})
		l := e.Login(t, "", "alice")
		require.True(t, l.IsNewUser)
		var me struct{ Me struct{ ID string } }
		e.Do(t, l.Skey, `{ me { id } }`, nil).Decode(t, &me)
		require.Equal(t, l.User.ID, me.Me.ID)
	})
}
