package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxid/wxid/internal/breaker"
	"github.com/wxid/wxid/internal/metrics"
)

// DefaultBreakerCooldown is how long Breaker stops asking a failed cache
// before it probes it again.
const DefaultBreakerCooldown = 2 * time.Second

// ErrUnavailable is returned, without contacting the cache, while Breaker's
// circuit is open: the cache failed recently and is left alone for a while.
var ErrUnavailable = errors.New("cache: unavailable (circuit open)")

// BreakerOptions configure NewBreaker.
type BreakerOptions struct {
	// Cooldown is how long the circuit stays open; DefaultBreakerCooldown
	// when zero.
	Cooldown time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registerer receives the gauge wxid_cache_circuit_open; nil = none.
	Registerer prometheus.Registerer
	// Logger logs the circuit opening and closing; nil = slog.Default().
	Logger *slog.Logger
}

// Sharded is a Cache that spreads keys over several servers (Memcached).
// Breaker keeps one circuit per server of a Sharded cache, so one hung
// server does not take the others' keys down with it.
type Sharded interface {
	Cache
	// Shards names the servers.
	Shards() []string
	// Shard returns the index in Shards of the server that holds key.
	Shard(key string) int
}

// Breaker wraps a Cache with a circuit breaker per server: one operation
// that fails because its server is unreachable or hung (not a miss,
// not-stored, an invalid key or the caller's own canceled context) opens
// that server's circuit, and for the cooldown every operation on a key of
// that server returns ErrUnavailable at once. Then one operation probes the
// server: success closes the circuit, failure opens it again. A hung
// memcached thus costs one timeout per cooldown instead of one per
// operation. Ping always asks every server, so /readyz tells the truth; it
// leaves the circuits alone.
type Breaker struct {
	next   Cache
	shards Sharded // nil: one circuit for the whole cache
	b      []*breaker.Breaker
}

var _ Counter = (*Breaker)(nil)

// NewBreaker wraps next.
func NewBreaker(next Cache, o BreakerOptions) *Breaker {
	if o.Cooldown <= 0 {
		o.Cooldown = DefaultBreakerCooldown
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	open := metrics.Register(o.Registerer, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wxid_cache_circuit_open",
		Help: "Cache servers whose circuit breaker is open or probing (their keys are skipped).",
	}))
	c := &Breaker{next: next}
	names := []string{"cache"}
	if s, ok := next.(Sharded); ok && len(s.Shards()) > 0 {
		c.shards, names = s, s.Shards()
	}
	for _, name := range names {
		c.b = append(c.b, breaker.New(breaker.Options{
			Threshold: 1, Cooldown: o.Cooldown, Now: o.Now,
			OnChange: func(from, to breaker.State) {
				switch {
				case from == breaker.Closed:
					open.Inc()
					o.Logger.Warn("cache server unreachable: skipping it", "server", name, "retry_in", o.Cooldown)
				case to == breaker.Closed:
					open.Dec()
					o.Logger.Info("cache server reachable again", "server", name)
				}
			},
		}))
	}
	return c
}

// Unwrap returns the wrapped Cache.
func (c *Breaker) Unwrap() Cache { return c.next }

// Get implements Cache.
func (c *Breaker) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.do(ctx, key, func() (err error) { v, err = c.next.Get(ctx, key); return err })
	return v, err
}

// Set implements Cache.
func (c *Breaker) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return c.do(ctx, key, func() error { return c.next.Set(ctx, key, value, ttl) })
}

// Add implements Cache.
func (c *Breaker) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return c.do(ctx, key, func() error { return c.next.Add(ctx, key, value, ttl) })
}

// Delete implements Cache.
func (c *Breaker) Delete(ctx context.Context, key string) error {
	return c.do(ctx, key, func() error { return c.next.Delete(ctx, key) })
}

// Increment implements Counter; ErrNotCounter when the wrapped cache keeps
// no counters.
func (c *Breaker) Increment(ctx context.Context, key string, ttl time.Duration) (uint64, error) {
	counter, ok := c.next.(Counter)
	if !ok {
		return 0, ErrNotCounter
	}
	var n uint64
	err := c.do(ctx, key, func() (err error) { n, err = counter.Increment(ctx, key, ttl); return err })
	return n, err
}

// Ping implements Cache. It always asks the cache.
func (c *Breaker) Ping(ctx context.Context) error { return c.next.Ping(ctx) }

func (c *Breaker) do(ctx context.Context, key string, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := c.b[0]
	if c.shards != nil && validKey(key) {
		b = c.b[c.shards.Shard(key)]
	}
	call, wait, ok := b.Allow()
	if !ok {
		return fmt.Errorf("%w: retry in %v", ErrUnavailable, wait.Round(time.Millisecond))
	}
	err := op()
	call.Done(c.failed(ctx, err))
	return err
}

// failed reports whether err says the cache is unreachable or hung.
func (c *Breaker) failed(ctx context.Context, err error) bool {
	switch {
	case err == nil, errors.Is(err, ErrCacheMiss), errors.Is(err, ErrNotStored),
		errors.Is(err, ErrInvalidKey), errors.Is(err, ErrInvalidTTL), errors.Is(err, ErrNotCounter):
		return false
	case ctx.Err() != nil:
		return false // the caller gave up; the cache may be fine
	}
	return true
}
