package session

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRevocations(t *testing.T) {
	r := newRevocations()
	now := time.Unix(1700000000, 0)
	require.False(t, r.has("a"))
	r.add("a", now.Add(time.Minute))
	r.add("b", now.Add(2*time.Minute))
	r.add("a", now.Add(30*time.Second)) // an earlier bound never shortens a later one
	require.True(t, r.has("a"))
	require.True(t, r.has("b"))

	r.expire(now.Add(time.Minute))
	require.False(t, r.has("a"), "its entries cannot be live any more")
	require.True(t, r.has("b"))
	r.expire(now.Add(3 * time.Minute))
	require.False(t, r.has("b"))
	require.Zero(t, r.n.Load())
}

func TestRevocationsBounded(t *testing.T) {
	r := newRevocations()
	now := time.Unix(1700000000, 0)
	for i := 0; i < 10; i++ {
		r.m[string(rune('a'+i))] = now.Add(time.Duration(i+1) * time.Minute)
	}
	r.mu.Lock()
	r.evictLocked()
	r.mu.Unlock()
	_, ok := r.m["a"]
	require.False(t, ok, "the one that matters least long goes first")
	require.Len(t, r.m, 9)
}
