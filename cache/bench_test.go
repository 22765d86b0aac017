package cache_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/testenv"
)

// benchValue is about the size of a cached session entry.
var benchValue = bytes.Repeat([]byte("s"), 256)

func benchGet(b *testing.B, c cache.Cache) {
	ctx := context.Background()
	const n = 1024
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("wxid:session:%064x", i)
		if err := c.Set(ctx, keys[i], benchValue, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := c.Get(ctx, keys[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := c.Get(ctx, keys[i%n]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkMemoryGet(b *testing.B) {
	benchGet(b, cache.NewMemory(0))
}

func BenchmarkMemcachedGet(b *testing.B) {
	srv := testenv.StartMemcached(b)
	c, err := cache.NewMemcached(cache.MemcachedOptions{Servers: []string{srv.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	benchGet(b, c)
}
