package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/clock"
)

func newLimiter(t *testing.T, limit int) (*Limiter, *clock.Fake, *prometheus.Registry) {
	t.Helper()
	// The middle of a window: its start is a multiple of a minute.
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC))
	reg := prometheus.NewRegistry()
	mem := cache.NewMemory(1000, cache.WithClock(clk.Now))
	return New(mem, Options{Limit: limit, Now: clk.Now, Registerer: reg}), clk, reg
}

func TestAllow(t *testing.T) {
	ctx := context.Background()
	l, clk, reg := newLimiter(t, 5)
	for i := range 5 {
		require.NoError(t, l.Allow(ctx, "login", "203.0.113.7"), "call %d", i+1)
	}
	err := l.Allow(ctx, "login", "203.0.113.7")
	require.Equal(t, apperr.CodeRateLimited, apperr.CodeOf(err), "%v", err)
	var coded *apperr.Error
	require.ErrorAs(t, err, &coded)
	require.Positive(t, coded.RetryAfterSeconds())
	require.NotContains(t, coded.Message, "203.0.113.7")

	require.NoError(t, l.Allow(ctx, "decryptPhoneNumber", "203.0.113.7"), "each operation has its own budget")
	require.NoError(t, l.Allow(ctx, "login", "203.0.113.8"), "each address has its own budget")
	require.NoError(t, l.Allow(ctx, "login", "::ffff:203.0.113.9"))
	for range 4 {
		require.NoError(t, l.Allow(ctx, "login", "203.0.113.9"))
	}
	require.Error(t, l.Allow(ctx, "login", "203.0.113.9"), "an IPv4-mapped address is the IPv4 address")

	// After retryAfter one more call fits.
	clk.Advance(coded.RetryAfter)
	require.NoError(t, l.Allow(ctx, "login", "203.0.113.7"), "retryAfter was honest")

	require.Equal(t, 1.0, testutil.ToFloat64(l.checks.WithLabelValues("decryptPhoneNumber", "allowed")))
	require.Equal(t, 2.0, testutil.ToFloat64(l.checks.WithLabelValues("login", "limited")))
	_ = reg
}

func TestSlidingWindow(t *testing.T) {
	ctx := context.Background()
	l, clk, _ := newLimiter(t, 10)
	for range 10 {
		require.NoError(t, l.Allow(ctx, "login", "198.51.100.1"))
	}
	// A minute later, halfway through the next window: the ten calls lie
	// in the previous window, half of which still counts.
	clk.Advance(time.Minute)
	for range 5 {
		require.NoError(t, l.Allow(ctx, "login", "198.51.100.1"))
	}
	require.Error(t, l.Allow(ctx, "login", "198.51.100.1"), "no burst of twice the limit at a window boundary")
	clk.Advance(2 * time.Minute)
	require.NoError(t, l.Allow(ctx, "login", "198.51.100.1"), "old windows are forgotten")
}

func TestIPv6By64(t *testing.T) {
	ctx := context.Background()
	l, _, _ := newLimiter(t, 2)
	require.NoError(t, l.Allow(ctx, "login", "2001:db8:1:2::1"))
	require.NoError(t, l.Allow(ctx, "login", "2001:db8:1:2:ffff::9"))
	require.Error(t, l.Allow(ctx, "login", "2001:db8:1:2::abcd"), "one /64 is one client")
	require.NoError(t, l.Allow(ctx, "login", "2001:db8:1:3::1"))
}

func TestOff(t *testing.T) {
	l, _, _ := newLimiter(t, 0)
	for range 100 {
		require.NoError(t, l.Allow(context.Background(), "login", "192.0.2.1"))
	}
	var none *Limiter
	require.NoError(t, none.Allow(context.Background(), "login", "192.0.2.1"))
}

type brokenCache struct{ cache.Counter }

func (brokenCache) Increment(context.Context, string, time.Duration) (uint64, error) {
	return 0, errors.New("memcached: i/o timeout")
}

func TestFailOpen(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := New(brokenCache{}, Options{Limit: 1, Registerer: reg})
	for range 3 {
		require.NoError(t, l.Allow(context.Background(), "login", "192.0.2.1"), "a failed cache lets calls through")
	}
	require.Equal(t, 3.0, testutil.ToFloat64(l.checks.WithLabelValues("login", "error")))
}
