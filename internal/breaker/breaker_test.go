package breaker

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/clock"
)

func TestBreaker(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var changes []string
	b := New(Options{Threshold: 3, Cooldown: 2 * time.Second, Now: clk.Now, OnChange: func(from, to State) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, from.String()+"->"+to.String())
	}})
	call := func(failed bool) {
		t.Helper()
		c, _, ok := b.Allow()
		require.True(t, ok)
		c.Done(failed)
	}
	refused := func() time.Duration {
		t.Helper()
		c, wait, ok := b.Allow()
		require.False(t, ok)
		require.Nil(t, c)
		return wait
	}

	// Failures must be consecutive: a success resets the count.
	call(true)
	call(true)
	call(false)
	call(true)
	call(true)
	require.Equal(t, Closed, b.State())

	// A straggler admitted before the circuit opens reports late.
	straggler, _, ok := b.Allow()
	require.True(t, ok)
	call(true)
	require.Equal(t, Open, b.State())
	straggler.Done(false)
	require.Equal(t, Open, b.State(), "only the probe closes an open circuit")
	require.Equal(t, 2*time.Second, refused())
	clk.Advance(1500 * time.Millisecond)
	require.Equal(t, 500*time.Millisecond, refused())

	// After the cooldown one probe goes; the others wait for it.
	clk.Advance(500 * time.Millisecond)
	probe, _, ok := b.Allow()
	require.True(t, ok)
	require.Equal(t, HalfOpen, b.State())
	require.Equal(t, 2*time.Second, refused())
	probe.Done(true)
	require.Equal(t, Open, b.State(), "a failed probe opens the circuit again")
	require.Equal(t, 2*time.Second, refused())

	clk.Advance(2 * time.Second)
	probe, _, ok = b.Allow()
	require.True(t, ok)
	probe.Done(false)
	require.Equal(t, Closed, b.State(), "a successful probe closes it")
	call(true)
	call(true)
	require.Equal(t, Closed, b.State(), "the failure count starts again")

	require.Equal(t, []string{"closed->open", "open->half-open", "half-open->open", "open->half-open", "half-open->closed"}, changes)
}

func TestDefaults(t *testing.T) {
	b := New(Options{})
	c, _, ok := b.Allow()
	require.True(t, ok)
	c.Done(true)
	require.Equal(t, Open, b.State(), "threshold 1 by default")
	require.Equal(t, time.Second, b.Cooldown())
}
