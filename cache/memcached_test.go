package cache_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/testenv"
)

func newMemcached(t testing.TB, o cache.MemcachedOptions) *cache.Memcached {
	t.Helper()
	c, err := cache.NewMemcached(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestNewMemcachedErrors(t *testing.T) {
	tests := []struct {
		name    string
		servers []string
	}{
		{"none", nil},
		{"blank", []string{" ", ""}},
		{"bad port", []string{"127.0.0.1:notaport"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cache.NewMemcached(cache.MemcachedOptions{Servers: tc.servers})
			require.Error(t, err)
		})
	}
}

// hungServer accepts connections and never answers, like a wedged memcached.
func hungServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestMemcachedUnavailable(t *testing.T) {
	ctx := context.Background()
	const timeout = 100 * time.Millisecond
	tests := []struct {
		name string
		addr string
	}{
		{"connection refused", "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))},
		{"hung server", hungServer(t)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newMemcached(t, cache.MemcachedOptions{Servers: []string{tc.addr}, Timeout: timeout})
			ops := map[string]func() error{
				"get":    func() error { _, err := c.Get(ctx, "k"); return err },
				"set":    func() error { return c.Set(ctx, "k", []byte("v"), time.Minute) },
				"add":    func() error { return c.Add(ctx, "k", []byte("v"), time.Minute) },
				"delete": func() error { return c.Delete(ctx, "k") },
				"ping":   func() error { return c.Ping(ctx) },
			}
			for name, op := range ops {
				start := time.Now()
				err := op()
				elapsed := time.Since(start)
				require.Error(t, err, name)
				require.NotErrorIs(t, err, cache.ErrCacheMiss, name)
				require.NotErrorIs(t, err, cache.ErrNotStored, name)
				require.Less(t, elapsed, timeout+400*time.Millisecond, "%s took %v", name, elapsed)
			}
		})
	}
}

func TestMemcachedContextDeadline(t *testing.T) {
	// With a generous Timeout, a short request deadline still bounds the wait.
	c := newMemcached(t, cache.MemcachedOptions{Servers: []string{hungServer(t)}, Timeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Get(ctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 500*time.Millisecond)
}

func TestMemcachedDownAndBack(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMemcached(t)
	c := newMemcached(t, cache.MemcachedOptions{Servers: []string{srv.Addr}, Timeout: 200 * time.Millisecond})
	require.NoError(t, c.Set(ctx, "k", []byte("v"), time.Minute))

	srv.Stop()
	_, err := c.Get(ctx, "k")
	require.Error(t, err)
	require.NotErrorIs(t, err, cache.ErrCacheMiss, "a down server is an error, not a miss")
	require.Error(t, c.Ping(ctx))

	srv.Start()
	require.NoError(t, c.Ping(ctx))
	_, err = c.Get(ctx, "k")
	require.ErrorIs(t, err, cache.ErrCacheMiss, "a restarted memcached is empty")
}

func TestMemcachedRestartStalePool(t *testing.T) {
	// After a restart every pooled connection is dead; the client must not
	// fail once per idle connection.
	ctx := context.Background()
	srv := testenv.StartMemcached(t)
	c := newMemcached(t, cache.MemcachedOptions{Servers: []string{srv.Addr}})
	var wg sync.WaitGroup
	for i := range 16 { // fill the idle pool with several connections
		wg.Go(func() {
			for j := range 20 {
				_ = c.Set(ctx, fmt.Sprintf("k%d-%d", i, j), []byte("v"), time.Minute)
			}
		})
	}
	wg.Wait()

	srv.Restart()
	for i := range 32 {
		_, err := c.Get(ctx, fmt.Sprintf("k%d-0", i%16))
		require.ErrorIs(t, err, cache.ErrCacheMiss, "get %d after restart", i)
	}
}

func TestMemcachedValueTooLarge(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMemcached(t)
	c := newMemcached(t, cache.MemcachedOptions{Servers: []string{srv.Addr}, Timeout: time.Second})
	err := c.Set(ctx, "huge", bytes.Repeat([]byte("x"), 2<<20), time.Minute)
	require.Error(t, err, "memcached's default item limit is 1 MiB")
	require.NotErrorIs(t, err, cache.ErrCacheMiss)
	require.NoError(t, c.Set(ctx, "small", []byte("v"), time.Minute), "the client recovers")
	got, err := c.Get(ctx, "small")
	require.NoError(t, err)
	require.Equal(t, "v", string(got))
}

func TestMemcachedSeveralServers(t *testing.T) {
	ctx := context.Background()
	srvs := []*testenv.Memcached{testenv.StartMemcached(t), testenv.StartMemcached(t), testenv.StartMemcached(t)}
	addrs := make([]string, len(srvs))
	for i, s := range srvs {
		addrs[i] = s.Addr
	}
	c := newMemcached(t, cache.MemcachedOptions{Servers: addrs, Timeout: 200 * time.Millisecond})
	const n = 600
	for i := range n {
		require.NoError(t, c.Set(ctx, fmt.Sprintf("session:%d", i), []byte("v"), time.Minute))
	}
	// Each key lives on exactly one server, and the servers share the load.
	owner := make(map[int]int, n)
	for si, s := range srvs {
		direct := memcache.New(s.Addr)
		held := 0
		for i := range n {
			if _, err := direct.Get(fmt.Sprintf("session:%d", i)); err == nil {
				_, dup := owner[i]
				require.False(t, dup, "key %d on two servers", i)
				owner[i] = si
				held++
			}
		}
		require.InDelta(t, n/3, held, n/3*0.25, "server %d holds %d of %d keys", si, held, n)
	}
	require.Len(t, owner, n)

	// One server down loses only its own keys.
	srvs[0].Stop()
	for i := range n {
		_, err := c.Get(ctx, fmt.Sprintf("session:%d", i))
		if owner[i] == 0 {
			require.Error(t, err)
		} else {
			require.NoError(t, err)
		}
	}
}
