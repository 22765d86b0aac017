package session

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
)

// TestPurgeLease: one instance at a time purges. While another holds the
// lease a pass deletes nothing; a pass releases its own lease when done,
// never another's.
func TestPurgeLease(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	revoked, _ := f.issue(t)
	require.NoError(t, f.m.Revoke(ctx, revoked))
	f.clock.Advance(2 * time.Hour)

	require.NoError(t, f.cache.Add(ctx, purgeLeaseKey, []byte("another instance"), purgeLease))
	n, err := f.m.Purge(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "another instance holds the lease")
	require.Equal(t, 1, f.db.Session.Query().CountX(ctx))
	v, err := f.cache.Get(ctx, purgeLeaseKey)
	require.NoError(t, err)
	require.Equal(t, "another instance", string(v), "its lease is left alone")

	f.clock.Advance(purgeLease + time.Second) // the other instance's lease runs out
	n, err = f.m.Purge(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = f.cache.Get(ctx, purgeLeaseKey)
	require.ErrorIs(t, err, cache.ErrCacheMiss, "released after the pass")
}
