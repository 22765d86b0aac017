package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/clock"
	"github.com/wxid/wxid/internal/testenv"
)

// harness gives the contract suite fresh caches of one implementation.
type harness struct {
	name string
	// new returns an empty cache and a function that lets d pass for it.
	new func(t *testing.T) (c cache.Cache, elapse func(d time.Duration))
}

func newFakeClock() *clock.Fake { return clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

func memoryHarness() harness {
	return harness{name: "memory", new: func(t *testing.T) (cache.Cache, func(time.Duration)) {
		clock := newFakeClock()
		return cache.NewMemory(1000, cache.WithClock(clock.Now)), clock.Advance
	}}
}

func TestContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) { runContract(t, memoryHarness()) })
	t.Run("memcached", func(t *testing.T) {
		// The server must outlive the cases: start it at this level.
		srv := testenv.StartMemcached(t)
		h := harness{name: "memcached", new: func(t *testing.T) (cache.Cache, func(time.Duration)) {
			srv.Flush()
			c, err := cache.NewMemcached(cache.MemcachedOptions{Servers: []string{srv.Addr}, Timeout: time.Second})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			return c, time.Sleep
		}}
		runContract(t, h)
	})
	t.Run("breaker over memcached", func(t *testing.T) {
		srv := testenv.StartMemcached(t)
		h := harness{name: "breaker", new: func(t *testing.T) (cache.Cache, func(time.Duration)) {
			srv.Flush()
			c, err := cache.NewMemcached(cache.MemcachedOptions{Servers: []string{srv.Addr}, Timeout: time.Second})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			return cache.NewInstrumented(cache.NewBreaker(c, cache.BreakerOptions{}), nil, nil), time.Sleep
		}}
		runContract(t, h)
	})
	t.Run("instrumented memory", func(t *testing.T) {
		h := memoryHarness()
		inner := h.new
		h.new = func(t *testing.T) (cache.Cache, func(time.Duration)) {
			c, elapse := inner(t)
			return cache.NewInstrumented(c, nil, nil), elapse
		}
		runContract(t, h)
	})
}

// runContract is the behaviour every Cache implementation shares.
func runContract(t *testing.T, h harness) {
	ctx := context.Background()

	t.Run("get set miss", func(t *testing.T) {
		c, _ := h.new(t)
		_, err := c.Get(ctx, "absent")
		require.ErrorIs(t, err, cache.ErrCacheMiss)

		require.NoError(t, c.Set(ctx, "k", []byte("v1"), time.Minute))
		got, err := c.Get(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, []byte("v1"), got)

		require.NoError(t, c.Set(ctx, "k", []byte("value two"), time.Minute), "Set overwrites")
		got, err = c.Get(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, []byte("value two"), got)
	})

	t.Run("binary and empty values", func(t *testing.T) {
		c, _ := h.new(t)
		values := map[string][]byte{
			"empty":  {},
			"binary": {0, '\r', '\n', 0xff, ' ', 'E', 'N', 'D', '\r', '\n'},
		}
		for k, v := range values {
			require.NoError(t, c.Set(ctx, k, v, time.Minute))
		}
		for k, v := range values {
			got, err := c.Get(ctx, k)
			require.NoError(t, err, k)
			require.Len(t, got, len(v), k)
			require.True(t, bytes.Equal(v, got), k)
		}
	})

	t.Run("values are not aliased", func(t *testing.T) {
		c, _ := h.new(t)
		in := []byte("original")
		require.NoError(t, c.Set(ctx, "k", in, time.Minute))
		copy(in, "MUTATED!")
		got, err := c.Get(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, "original", string(got))
		copy(got, "MUTATED!")
		again, err := c.Get(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, "original", string(again))
	})

	t.Run("add", func(t *testing.T) {
		c, _ := h.new(t)
		require.NoError(t, c.Add(ctx, "lock", []byte("owner-1"), time.Minute))
		require.ErrorIs(t, c.Add(ctx, "lock", []byte("owner-2"), time.Minute), cache.ErrNotStored)
		got, err := c.Get(ctx, "lock")
		require.NoError(t, err)
		require.Equal(t, "owner-1", string(got), "a failed Add leaves the value alone")

		require.NoError(t, c.Delete(ctx, "lock"))
		require.NoError(t, c.Add(ctx, "lock", []byte("owner-2"), time.Minute), "Add after Delete")

		require.NoError(t, c.Set(ctx, "set-first", []byte("x"), time.Minute))
		require.ErrorIs(t, c.Add(ctx, "set-first", []byte("y"), time.Minute), cache.ErrNotStored)
	})

	t.Run("add is exclusive under contention", func(t *testing.T) {
		c, _ := h.new(t)
		const n = 16
		var wg sync.WaitGroup
		results := make(chan error, n)
		for i := range n {
			wg.Go(func() { results <- c.Add(ctx, "contended", fmt.Appendf(nil, "%d", i), time.Minute) })
		}
		wg.Wait()
		close(results)
		won := 0
		for err := range results {
			if err == nil {
				won++
				continue
			}
			require.ErrorIs(t, err, cache.ErrNotStored)
		}
		require.Equal(t, 1, won, "exactly one Add takes the lock")
	})

	t.Run("delete", func(t *testing.T) {
		c, _ := h.new(t)
		require.NoError(t, c.Delete(ctx, "never-set"), "deleting a missing key is not an error")
		require.NoError(t, c.Set(ctx, "k", []byte("v"), time.Minute))
		require.NoError(t, c.Delete(ctx, "k"))
		_, err := c.Get(ctx, "k")
		require.ErrorIs(t, err, cache.ErrCacheMiss)
		require.NoError(t, c.Delete(ctx, "k"), "deleting twice is not an error")
	})

	t.Run("large value", func(t *testing.T) {
		c, _ := h.new(t)
		big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10/16) // 512 KiB
		require.NoError(t, c.Set(ctx, "big", big, time.Minute))
		got, err := c.Get(ctx, "big")
		require.NoError(t, err)
		require.True(t, bytes.Equal(big, got))
	})

	t.Run("invalid keys", func(t *testing.T) {
		c, _ := h.new(t)
		tests := []struct{ name, key string }{
			{"empty", ""},
			{"space", "a b"},
			{"tab", "a\tb"},
			{"newline", "a\nb"},
			{"crlf injection", "a\r\nflush_all"},
			{"nul", "a\x00b"},
			{"del", "a\x7fb"},
			{"non-ascii", "wx:用户"},
			{"251 bytes", strings.Repeat("k", 251)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.Get(ctx, tc.key)
				require.ErrorIs(t, err, cache.ErrInvalidKey)
				require.ErrorIs(t, c.Set(ctx, tc.key, []byte("v"), time.Minute), cache.ErrInvalidKey)
				require.ErrorIs(t, c.Add(ctx, tc.key, []byte("v"), time.Minute), cache.ErrInvalidKey)
				require.ErrorIs(t, c.Delete(ctx, tc.key), cache.ErrInvalidKey)
			})
		}
		longest := strings.Repeat("k", cache.MaxKeyLen)
		require.NoError(t, c.Set(ctx, longest, []byte("v"), time.Minute), "250 bytes is allowed")
		got, err := c.Get(ctx, longest)
		require.NoError(t, err)
		require.Equal(t, "v", string(got))
		// The crlf injection above must not have flushed anything.
		require.NoError(t, c.Ping(ctx))
		_, err = c.Get(ctx, longest)
		require.NoError(t, err)
	})

	t.Run("negative ttl", func(t *testing.T) {
		c, _ := h.new(t)
		require.ErrorIs(t, c.Set(ctx, "k", []byte("v"), -time.Second), cache.ErrInvalidTTL)
		require.ErrorIs(t, c.Add(ctx, "k", []byte("v"), -time.Second), cache.ErrInvalidTTL)
		_, err := c.Get(ctx, "k")
		require.ErrorIs(t, err, cache.ErrCacheMiss)
	})

	t.Run("done context", func(t *testing.T) {
		c, _ := h.new(t)
		require.NoError(t, c.Set(ctx, "k", []byte("v"), time.Minute))
		done, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Get(done, "k")
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, c.Set(done, "k", []byte("v"), time.Minute), context.Canceled)
		require.ErrorIs(t, c.Add(done, "k2", []byte("v"), time.Minute), context.Canceled)
		require.ErrorIs(t, c.Delete(done, "k"), context.Canceled)
		require.ErrorIs(t, c.Ping(done), context.Canceled)
		_, err = c.Get(ctx, "k")
		require.NoError(t, err, "a done context changes nothing")
	})

	t.Run("ping", func(t *testing.T) {
		c, _ := h.new(t)
		require.NoError(t, c.Ping(ctx))
	})

	t.Run("ttl", func(t *testing.T) {
		// memcached counts whole seconds and may expire an entry up to a
		// second early, so "short" is only checked after it must be gone.
		c, elapse := h.new(t)
		require.NoError(t, c.Set(ctx, "short", []byte("v"), time.Second))
		require.NoError(t, c.Add(ctx, "short-lock", []byte("v"), time.Second))
		require.NoError(t, c.Set(ctx, "subsecond", []byte("v"), 10*time.Millisecond))
		require.NoError(t, c.Set(ctx, "long", []byte("v"), time.Hour))
		require.NoError(t, c.Set(ctx, "forever", []byte("v"), 0))
		require.NoError(t, c.Set(ctx, "beyond-30-days", []byte("v"), 31*24*time.Hour))
		require.ErrorIs(t, c.Add(ctx, "long", []byte("w"), time.Hour), cache.ErrNotStored)

		elapse(2100 * time.Millisecond)

		for _, k := range []string{"short", "short-lock", "subsecond"} {
			_, err := c.Get(ctx, k)
			require.ErrorIs(t, err, cache.ErrCacheMiss, "%s should have expired", k)
		}
		for _, k := range []string{"long", "forever", "beyond-30-days"} {
			_, err := c.Get(ctx, k)
			require.NoError(t, err, "%s should still be there", k)
		}
		require.NoError(t, c.Add(ctx, "short-lock", []byte("again"), time.Minute), "an expired lock can be taken")
	})

	t.Run("concurrent use", func(t *testing.T) {
		c, _ := h.new(t)
		const workers, ops = 8, 200
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range ops {
					key := fmt.Sprintf("key-%d", i%17)
					var err error
					switch i % 4 {
					case 0:
						err = c.Set(ctx, key, fmt.Appendf(nil, "w%d-i%d", w, i), time.Minute)
					case 1:
						var v []byte
						v, err = c.Get(ctx, key)
						if err == nil && !bytes.HasPrefix(v, []byte("w")) {
							err = fmt.Errorf("torn value %q", v)
						}
					case 2:
						err = c.Add(ctx, key, []byte("w-add"), time.Minute)
					case 3:
						err = c.Delete(ctx, key)
					}
					if err != nil && !errors.Is(err, cache.ErrCacheMiss) && !errors.Is(err, cache.ErrNotStored) {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})

	t.Run("increment", func(t *testing.T) {
		c, elapse := h.new(t)
		counter, ok := c.(cache.Counter)
		if !ok {
			t.Skipf("%T keeps no counters", c)
		}
		n, err := counter.Increment(ctx, "hits", 2*time.Second)
		require.NoError(t, err)
		require.Equal(t, uint64(1), n, "an absent counter starts at 1")
		n, err = counter.Increment(ctx, "hits", time.Hour)
		require.NoError(t, err)
		require.Equal(t, uint64(2), n)
		got, err := c.Get(ctx, "hits")
		require.NoError(t, err)
		require.Equal(t, "2", string(got), "Get reads a counter in decimal")

		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range each {
					if _, err := counter.Increment(ctx, "shared", time.Minute); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err = c.Get(ctx, "shared")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(workers*each), string(got), "no increment is lost, the first ones included")

		elapse(2100 * time.Millisecond)
		n, err = counter.Increment(ctx, "hits", time.Minute)
		require.NoError(t, err)
		require.Equal(t, uint64(1), n, "later increments do not extend the first TTL")

		_, err = counter.Increment(ctx, "bad key", time.Minute)
		require.ErrorIs(t, err, cache.ErrInvalidKey)
	})
}
