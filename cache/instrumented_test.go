package cache_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/testenv"
)

func counter(t *testing.T, reg *prometheus.Registry, op, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "wxid_cache_operations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == op && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func TestInstrumentedCounts(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := cache.NewInstrumented(cache.NewMemory(10), reg, logger)

	require.NoError(t, c.Set(ctx, "k", []byte("secret-value"), time.Minute))
	_, err := c.Get(ctx, "k")
	require.NoError(t, err)
	_, err = c.Get(ctx, "absent")
	require.ErrorIs(t, err, cache.ErrCacheMiss)
	require.NoError(t, c.Add(ctx, "lock", []byte("v"), time.Minute))
	require.ErrorIs(t, c.Add(ctx, "lock", []byte("v"), time.Minute), cache.ErrNotStored)
	require.NoError(t, c.Delete(ctx, "k"))
	require.NoError(t, c.Ping(ctx))
	require.Empty(t, logs.String(), "hits, misses and not-stored are not logged")

	require.ErrorIs(t, c.Set(ctx, "bad key", []byte("secret-value"), time.Minute), cache.ErrInvalidKey)

	for _, tc := range []struct {
		op, result string
		want       float64
	}{
		{"get", "hit", 1}, {"get", "miss", 1}, {"get", "error", 0},
		{"set", "ok", 1}, {"set", "error", 1},
		{"add", "ok", 1}, {"add", "not_stored", 1}, {"add", "error", 0},
		{"delete", "ok", 1}, {"ping", "ok", 1},
	} {
		require.Equal(t, tc.want, counter(t, reg, tc.op, tc.result), "%s %s", tc.op, tc.result)
	}
	require.Contains(t, logs.String(), "op=set")
	require.Contains(t, logs.String(), "level=WARN")
	require.NotContains(t, logs.String(), "secret-value", "values are never logged")
	require.NotContains(t, logs.String(), "bad key", "keys are never logged")
}

func TestInstrumentedSharesRegistration(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	a := cache.NewInstrumented(cache.NewMemory(10), reg, nil)
	b := cache.NewInstrumented(cache.NewMemory(10), reg, nil) // must not panic
	_, _ = a.Get(ctx, "x")
	_, _ = b.Get(ctx, "x")
	require.Equal(t, 2.0, counter(t, reg, "get", "miss"))
	require.Equal(t, 14, testutil.CollectAndCount(reg, "wxid_cache_operations_total"), "one vec: 14 op/result series (incr included), pre-created at zero")

	nop := cache.NewInstrumented(cache.NewMemory(10), nil, nil) // nil registerer
	_, err := nop.Get(ctx, "x")
	require.ErrorIs(t, err, cache.ErrCacheMiss)
	require.IsType(t, &cache.Memory{}, nop.Unwrap())
}

func TestInstrumentedMemcachedDown(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	mc, err := cache.NewMemcached(cache.MemcachedOptions{
		Servers: []string{"127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))},
		Timeout: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	c := cache.NewInstrumented(mc, reg, logger)
	_, err = c.Get(ctx, "wxid:s:abc")
	require.Error(t, err)
	require.Equal(t, 1.0, counter(t, reg, "get", "error"))
	require.Equal(t, 0.0, counter(t, reg, "get", "miss"))
	require.Contains(t, logs.String(), "cache operation failed")
	require.Contains(t, logs.String(), "connection refused")
}
