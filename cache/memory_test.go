package cache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
)

func TestMemoryTTLBoundary(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	m := cache.NewMemory(10, cache.WithClock(clock.Now))
	require.NoError(t, m.Set(ctx, "k", []byte("v"), time.Second))
	clock.Advance(999 * time.Millisecond)
	_, err := m.Get(ctx, "k")
	require.NoError(t, err)
	clock.Advance(time.Millisecond)
	_, err = m.Get(ctx, "k")
	require.ErrorIs(t, err, cache.ErrCacheMiss, "an entry expires at exactly its TTL")
	require.Zero(t, m.Len(), "an expired entry is dropped when read")
}

func TestMemoryEviction(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	m := cache.NewMemory(3, cache.WithClock(clock.Now))
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, m.Set(ctx, k, []byte(k), time.Hour))
	}
	_, err := m.Get(ctx, "a") // a is now the most recently used
	require.NoError(t, err)
	require.NoError(t, m.Set(ctx, "d", []byte("d"), time.Hour))
	require.Equal(t, 3, m.Len())
	_, err = m.Get(ctx, "b")
	require.ErrorIs(t, err, cache.ErrCacheMiss, "the least recently used entry goes first")
	for _, k := range []string{"a", "c", "d"} {
		_, err := m.Get(ctx, k)
		require.NoError(t, err, k)
	}
}

func TestMemoryEvictsExpiredFirst(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	m := cache.NewMemory(3, cache.WithClock(clock.Now))
	require.NoError(t, m.Set(ctx, "old-live", []byte("v"), time.Hour))
	require.NoError(t, m.Set(ctx, "short1", []byte("v"), time.Second))
	require.NoError(t, m.Set(ctx, "short2", []byte("v"), time.Second))
	clock.Advance(2 * time.Second)
	require.NoError(t, m.Set(ctx, "new", []byte("v"), time.Hour))
	require.Equal(t, 2, m.Len(), "both expired entries were swept")
	_, err := m.Get(ctx, "old-live")
	require.NoError(t, err, "a live entry survives while expired ones can go")
}

func TestMemoryBounded(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(100)
	for i := range 10_000 {
		require.NoError(t, m.Set(ctx, fmt.Sprintf("k%d", i), []byte("v"), time.Hour))
	}
	require.Equal(t, 100, m.Len())
	_, err := m.Get(ctx, "k9999")
	require.NoError(t, err)
	require.Equal(t, cache.DefaultMemoryEntries, 100_000)
}

func TestMemoryAllocations(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(100)
	value := make([]byte, 128)
	require.NoError(t, m.Set(ctx, "k", value, time.Hour))
	allocs := testing.AllocsPerRun(100, func() { _ = m.Set(ctx, "k", value, time.Hour) })
	require.Zero(t, allocs, "overwriting reuses the entry")
	allocs = testing.AllocsPerRun(100, func() { _, _ = m.Get(ctx, "k") })
	require.LessOrEqual(t, allocs, 1.0, "a hit allocates only the returned copy")
	allocs = testing.AllocsPerRun(100, func() { _, _ = m.Get(ctx, "absent") })
	require.Zero(t, allocs)
}
