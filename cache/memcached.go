package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

const (
	// DefaultMemcachedTimeout bounds each memcached operation's connect and
	// socket I/O. gomemcache's own default, 500 ms, lets a hung server stall
	// every request for half a second.
	DefaultMemcachedTimeout = 150 * time.Millisecond

	// DefaultMemcachedMaxIdleConns is the number of idle connections kept per
	// server; it should cover peak concurrency (gomemcache's default of 2
	// churns connections under load).
	DefaultMemcachedMaxIdleConns = 256

	// maxRelativeExpiration is the largest expiration memcached reads as
	// seconds from now; larger numbers are absolute Unix times.
	maxRelativeExpiration = 30 * 24 * 60 * 60
)

// MemcachedOptions configures NewMemcached.
type MemcachedOptions struct {
	// Servers lists the memcached servers as "host:port" (or unix socket
	// paths). Keys are spread over them by rendezvous hashing, so adding or
	// removing one of N servers remaps only about 1/N of the keys. Every wxid
	// instance must spell each server the same way.
	Servers []string
	// Timeout bounds connecting and each operation's socket I/O;
	// DefaultMemcachedTimeout when zero.
	Timeout time.Duration
	// MaxIdleConns is the number of idle connections kept per server;
	// DefaultMemcachedMaxIdleConns when zero or less.
	MaxIdleConns int
}

// Memcached is a Cache over one or more memcached servers, built on
// gomemcache. It is safe for concurrent use.
//
// gomemcache takes no context: an operation returns ctx.Err() at once when
// ctx is already done, and when ctx's deadline falls before the operation's
// own worst case it stops waiting at the deadline (the abandoned call still
// finishes in the background within Timeout). Otherwise an operation takes
// at most about twice Timeout (connect, then I/O), once more if it is
// retried on a connection the server had closed.
type Memcached struct {
	client  *memcache.Client
	sel     *rendezvous
	timeout time.Duration
}

var (
	_ Cache   = (*Memcached)(nil)
	_ Sharded = (*Memcached)(nil)
)

// NewMemcached returns a Memcached for o.Servers. It resolves the server
// addresses but does not connect; use Ping for that.
func NewMemcached(o MemcachedOptions) (*Memcached, error) {
	sel, err := newRendezvous(o.Servers)
	if err != nil {
		return nil, fmt.Errorf("memcached: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultMemcachedTimeout
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = DefaultMemcachedMaxIdleConns
	}
	c := memcache.NewFromSelector(sel)
	c.Timeout = o.Timeout
	c.MaxIdleConns = o.MaxIdleConns
	return &Memcached{client: c, sel: sel, timeout: o.Timeout}, nil
}

// Shards implements Sharded: the servers, as resolved.
func (m *Memcached) Shards() []string {
	out := make([]string, len(m.sel.addrs))
	for i, a := range m.sel.addrs {
		out[i] = a.String()
	}
	return out
}

// Shard implements Sharded: the index of the server that holds key.
func (m *Memcached) Shard(key string) int {
	if len(m.sel.addrs) == 1 {
		return 0
	}
	return m.sel.pick(key)
}

// Get implements Cache.
func (m *Memcached) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(ctx, key); err != nil {
		return nil, err
	}
	var value []byte
	err := m.do(ctx, func() error {
		it, err := m.client.Get(key)
		if err == nil {
			value = it.Value
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return value, nil
}

// Set implements Cache.
func (m *Memcached) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkArgs(ctx, key, ttl); err != nil {
		return err
	}
	it := &memcache.Item{Key: key, Value: value, Expiration: expiration(ttl, time.Now())}
	return m.do(ctx, func() error { return m.client.Set(it) })
}

// Add implements Cache.
func (m *Memcached) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkArgs(ctx, key, ttl); err != nil {
		return err
	}
	it := &memcache.Item{Key: key, Value: value, Expiration: expiration(ttl, time.Now())}
	return m.do(ctx, func() error { return m.client.Add(it) })
}

// Delete implements Cache.
func (m *Memcached) Delete(ctx context.Context, key string) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	err := m.do(ctx, func() error { return m.client.Delete(key) })
	if errors.Is(err, ErrCacheMiss) {
		return nil
	}
	return err
}

// Ping implements Cache: it asks every server for its version and fails if
// any of them does not answer.
func (m *Memcached) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.do(ctx, m.client.Ping)
}

// Close closes the idle connections. The Memcached stays usable.
func (m *Memcached) Close() error {
	return m.client.Close()
}

// do runs op, a gomemcache call, within ctx as far as gomemcache allows,
// retries it once on a connection the server had closed (after a memcached
// restart every pooled connection is stale), and maps its error.
func (m *Memcached) do(ctx context.Context, op func() error) error {
	run := func() error {
		err := op()
		if staleConn(err) {
			// The whole pool is likely stale: drop it rather than fail once
			// per idle connection. Retrying Add is safe too: if the lost
			// reply was STORED, the retry reports ErrNotStored and the
			// lock merely lapses with its TTL.
			_ = m.client.Close()
			err = op()
		}
		return mapError(err)
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 4*m.timeout {
		return run()
	}
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// staleConn reports whether err means the server closed a pooled connection.
func staleConn(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

// mapError turns gomemcache's errors into this package's.
func mapError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return ErrCacheMiss
	case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCASConflict):
		return ErrNotStored
	case errors.Is(err, memcache.ErrMalformedKey):
		return ErrInvalidKey
	}
	return fmt.Errorf("memcached: %w", err)
}

// expiration converts a TTL to memcached's expiration field: whole seconds,
// rounded up so that no entry is asked to live shorter than ttl; beyond 30
// days memcached wants an absolute Unix time, clamped to what int32 holds.
// Zero means no expiry. ttl must not be negative.
func expiration(ttl time.Duration, now time.Time) int32 {
	if ttl <= 0 {
		return 0
	}
	secs := int64(ttl / time.Second)
	if ttl%time.Second != 0 {
		secs++
	}
	if secs <= maxRelativeExpiration {
		return int32(secs)
	}
	abs := now.Unix() + secs
	if abs > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(abs)
}
