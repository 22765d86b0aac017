package cache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Counter is a Cache that also keeps atomic counters, shared by every
// process that uses the same servers (rate limits count with it). Memory,
// Memcached, Instrumented and Breaker implement it; Instrumented and
// Breaker only when the cache they wrap does.
type Counter interface {
	Cache
	// Increment adds one to the counter under key and returns the new
	// value. An absent or expired counter starts at 1 and lives for ttl;
	// later increments do not extend it. Get reads a counter as its value
	// in decimal ASCII.
	Increment(ctx context.Context, key string, ttl time.Duration) (uint64, error)
}

var (
	_ Counter = (*Memory)(nil)
	_ Counter = (*Memcached)(nil)
)

// ErrNotCounter is returned by the decorators' Increment when the cache
// they wrap keeps no counters.
var ErrNotCounter = errors.New("cache: the wrapped cache keeps no counters")

// Increment implements Counter.
func (m *Memory) Increment(ctx context.Context, key string, ttl time.Duration) (uint64, error) {
	if err := checkArgs(ctx, key, ttl); err != nil {
		return 0, err
	}
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok && !e.expired(now) {
		n, err := strconv.ParseUint(string(e.value), 10, 64)
		if err != nil {
			return 0, errors.New("cache: increment of a value that is not a number")
		}
		n++
		e.value = strconv.AppendUint(e.value[:0], n, 10)
		m.moveToFront(e)
		return n, nil
	}
	m.storeLocked(now, key, []byte("1"), expiresAt(now, ttl), false)
	return 1, nil
}

// Increment implements Counter: memcached's incr, or add when the counter
// is absent (and incr again if another client added it first).
func (m *Memcached) Increment(ctx context.Context, key string, ttl time.Duration) (uint64, error) {
	if err := checkArgs(ctx, key, ttl); err != nil {
		return 0, err
	}
	var n uint64
	err := m.do(ctx, func() error {
		for range 2 {
			v, err := m.client.Increment(key, 1)
			if !errors.Is(err, memcache.ErrCacheMiss) {
				n = v
				return err
			}
			err = m.client.Add(&memcache.Item{Key: key, Value: []byte("1"), Expiration: expiration(ttl, time.Now())})
			if !errors.Is(err, memcache.ErrNotStored) {
				n = 1
				return err
			}
		}
		return errors.New("counter created and evicted under contention")
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
