package cache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/testenv"
)

// TestBreakerHungMemcached: a hung (SIGSTOPped) memcached costs one
// timeout, then is left alone for the cooldown, then probed; once it
// answers again it is used again.
func TestBreakerHungMemcached(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMemcached(t)
	const timeout = 100 * time.Millisecond
	mc, err := cache.NewMemcached(cache.MemcachedOptions{Servers: []string{srv.Addr}, Timeout: timeout})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mc.Close() })
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	c := cache.NewInstrumented(cache.NewBreaker(mc, cache.BreakerOptions{Cooldown: 2 * time.Second, Now: clk.Now, Registerer: reg}), reg, nil)
	require.NoError(t, c.Set(ctx, "k", []byte("v"), time.Minute))
	_, err = c.Get(ctx, "absent")
	require.ErrorIs(t, err, cache.ErrCacheMiss, "a miss is no failure")
	require.NoError(t, c.Add(ctx, "k2", []byte("v"), time.Minute))
	require.ErrorIs(t, c.Add(ctx, "k2", []byte("v"), time.Minute), cache.ErrNotStored, "nor is not-stored")

	srv.Pause()
	start := time.Now()
	_, err = c.Get(ctx, "k")
	first := time.Since(start)
	require.Error(t, err)
	require.NotErrorIs(t, err, cache.ErrUnavailable, "the first failure asks the server")
	require.GreaterOrEqual(t, first, timeout)

	start = time.Now()
	for range 50 {
		_, err = c.Get(ctx, "k")
		require.ErrorIs(t, err, cache.ErrUnavailable)
		require.ErrorIs(t, c.Set(ctx, "k", []byte("v"), time.Minute), cache.ErrUnavailable)
		_, err = c.Increment(ctx, "n", time.Minute)
		require.ErrorIs(t, err, cache.ErrUnavailable)
	}
	// Paying the timeout each, they would take 150 timeouts; skipped, they
	// take far less than ten even on a busy machine under -race.
	require.Less(t, time.Since(start), 10*timeout, "150 operations on an open circuit do not wait for the server")
	require.Equal(t, 1.0, testutil.ToFloat64(metricGauge(t, reg)))
	require.Error(t, c.Ping(ctx), "Ping asks the server even while the circuit is open")

	// Still hung after the cooldown: one probe pays the timeout, the
	// circuit opens again.
	clk.Advance(2 * time.Second)
	_, err = c.Get(ctx, "k")
	require.Error(t, err)
	require.NotErrorIs(t, err, cache.ErrUnavailable, "after the cooldown one operation probes")
	_, err = c.Get(ctx, "k")
	require.ErrorIs(t, err, cache.ErrUnavailable)

	srv.Resume()
	_, err = c.Get(ctx, "k")
	require.ErrorIs(t, err, cache.ErrUnavailable, "recovery is noticed at the next probe, not before")
	clk.Advance(2 * time.Second)
	got, err := c.Get(ctx, "k")
	require.NoError(t, err, "the probe succeeds and closes the circuit")
	require.Equal(t, "v", string(got))
	require.NoError(t, c.Set(ctx, "k", []byte("w"), time.Minute))
	require.Equal(t, 0.0, testutil.ToFloat64(metricGauge(t, reg)))

	skipped := testutil.ToFloat64(opsCounter(t, reg, "get", "skipped"))
	require.GreaterOrEqual(t, skipped, 51.0, "skipped operations are counted apart from errors")
}

func metricGauge(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	return gathered(t, reg, "wxid_cache_circuit_open", nil)
}

func opsCounter(t *testing.T, reg *prometheus.Registry, op, result string) prometheus.Collector {
	t.Helper()
	return gathered(t, reg, "wxid_cache_operations_total", map[string]string{"op": op, "result": result})
}

// gathered returns a collector that yields the one gathered value of name
// with labels, for testutil.ToFloat64.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			g.Set(v)
			return g
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return nil
}

// TestBreakerPerServer: one hung server of two costs its own keys one
// timeout and leaves the other server's keys alone.
func TestBreakerPerServer(t *testing.T) {
	ctx := context.Background()
	hung, fine := testenv.StartMemcached(t), testenv.StartMemcached(t)
	const timeout = 100 * time.Millisecond
	mc, err := cache.NewMemcached(cache.MemcachedOptions{Servers: []string{hung.Addr, fine.Addr}, Timeout: timeout})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mc.Close() })
	require.Len(t, mc.Shards(), 2)
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	c := cache.NewBreaker(mc, cache.BreakerOptions{Now: clk.Now, Registerer: reg})

	// A key on each server.
	keys := map[int]string{}
	for i := 0; len(keys) < 2; i++ {
		k := "key-" + strconv.Itoa(i)
		if _, ok := keys[mc.Shard(k)]; !ok {
			keys[mc.Shard(k)] = k
		}
	}
	hungKey, fineKey := keys[0], keys[1]
	for _, k := range keys {
		require.NoError(t, c.Set(ctx, k, []byte(k), time.Minute))
	}

	hung.Pause()
	_, err = c.Get(ctx, hungKey)
	require.Error(t, err)
	require.NotErrorIs(t, err, cache.ErrUnavailable)
	_, err = c.Get(ctx, hungKey)
	require.ErrorIs(t, err, cache.ErrUnavailable, "the hung server's keys are skipped")
	start := time.Now()
	for range 20 {
		got, err := c.Get(ctx, fineKey)
		require.NoError(t, err, "the other server's keys still work")
		require.Equal(t, fineKey, string(got))
	}
	require.Less(t, time.Since(start), 10*timeout, "20 gets of the other server's keys do not wait for the hung one (20 timeouts)")
	require.Equal(t, 1.0, testutil.ToFloat64(metricGauge(t, reg)), "one server's circuit is open")

	hung.Resume()
	clk.Advance(cache.DefaultBreakerCooldown)
	got, err := c.Get(ctx, hungKey)
	require.NoError(t, err)
	require.Equal(t, hungKey, string(got))
	require.Equal(t, 0.0, testutil.ToFloat64(metricGauge(t, reg)))
}
