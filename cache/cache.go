// Package cache stores opaque, short-lived values by key: skey-hash to
// session entries, cluster locks and similar. The Cache interface has two
// implementations: Memcached, over one or more memcached servers, and
// Memory, an in-process cache used when no memcached is configured.
// Instrumented wraps either one with Prometheus counters and logging.
//
// A cache is never the source of truth: ErrCacheMiss means "look it up
// elsewhere", and any other error should be logged, counted and treated like
// a miss by callers that can fall back to the database.
package cache

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrCacheMiss is returned by Get when the key is absent or expired.
	ErrCacheMiss = errors.New("cache: miss")

	// ErrNotStored is returned by Add when the key already holds a live
	// value (the lock is taken by someone else).
	ErrNotStored = errors.New("cache: not stored")

	// ErrInvalidKey is returned, without contacting any server, for a key
	// that is empty, longer than MaxKeyLen bytes, or contains a byte
	// outside printable ASCII (spaces and control characters included).
	ErrInvalidKey = errors.New("cache: invalid key")

	// ErrInvalidTTL is returned for a negative TTL.
	ErrInvalidTTL = errors.New("cache: negative ttl")
)

// MaxKeyLen is the longest key accepted, memcached's limit.
const MaxKeyLen = 250

// Cache stores opaque values by key with a TTL. Keys are printable ASCII
// without spaces, 1 to MaxKeyLen bytes; callers build them from a prefix and
// a hex hash, never from raw tokens. Implementations are safe for concurrent
// use, return ctx.Err() when ctx is already done, and never alias the slices
// passed to or returned from them.
//
// A TTL of zero means no expiry (the entry lives until evicted); a negative
// TTL is ErrInvalidTTL. Memcached counts TTLs in whole seconds: they are
// rounded up, and an entry may expire up to a second early or late, so keep
// the authoritative expiry inside the value when it matters.
type Cache interface {
	// Get returns the value stored under key, or ErrCacheMiss.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key unconditionally.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Add stores value under key only if the key holds no live value, and
	// returns ErrNotStored otherwise. It is atomic, so it can serve as a
	// cluster-wide lock whose lease is the TTL.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Ping reports whether the cache is reachable (for /readyz).
	Ping(ctx context.Context) error
}

// validKey reports whether key may be sent to memcached's text protocol.
func validKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// checkArgs validates the arguments shared by Set and Add.
func checkArgs(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validKey(key) {
		return ErrInvalidKey
	}
	if ttl < 0 {
		return ErrInvalidTTL
	}
	return nil
}

// checkKey validates the arguments of Get and Delete.
func checkKey(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validKey(key) {
		return ErrInvalidKey
	}
	return nil
}
