// Package ratelimit limits how often one client may call an expensive
// operation, counted across the cluster in the shared cache.
//
// The window slides: the count of the current fixed window (one cache
// counter per client, operation and window) plus the previous window's
// count weighted by how much of it still lies within the last Window. This
// costs one increment and one read per call, never spikes to twice the
// limit at a window boundary, and keeps two small counters per active
// client. A client that keeps calling while refused stays refused: refused
// calls count too.
//
// When the cache fails the limiter lets calls through (fail open): the
// limit protects upstream quotas from abuse, and refusing every login
// because memcached is down would turn a cache outage into an outage.
// Failures are counted and logged.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/internal/metrics"
)

// Options configure New.
type Options struct {
	// Limit is how many calls one client may make per Window; 0 or less
	// turns the limiter off (Allow always allows).
	Limit int
	// Window is the length of the sliding window; a minute when zero.
	Window time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger logs cache failures; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer receives wxid_rate_limit_checks_total; nil = none.
	Registerer prometheus.Registerer
}

// Limiter counts calls per client and operation. It is safe for concurrent
// use.
type Limiter struct {
	c      cache.Counter
	o      Options
	checks *prometheus.CounterVec
	warned atomic.Int64 // unix nanoseconds of the last cache-failure warning
}

// New returns a Limiter counting in c.
func New(c cache.Counter, o Options) *Limiter {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	checks := metrics.Register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxid_rate_limit_checks_total",
		Help: "Rate limit checks by operation and result (allowed, limited, error: the cache failed and the call was allowed).",
	}, []string{"op", "result"}))
	return &Limiter{c: c, o: o, checks: checks}
}

// Limit returns the number of calls allowed per window; 0 = off.
func (l *Limiter) Limit() int { return max(l.o.Limit, 0) }

// Allow counts one call of op by client (an IP address) and returns nil,
// or a RATE_LIMITED error whose RetryAfter says when the client may call
// again. An IPv6 client is counted by its /64, which one subscriber
// usually holds whole.
func (l *Limiter) Allow(ctx context.Context, op, client string) error {
	if l == nil || l.o.Limit <= 0 {
		return nil
	}
	now := l.o.Now()
	w := int64(l.o.Window)
	idx := now.UnixNano() / w
	elapsed := time.Duration(now.UnixNano() - idx*w)
	base := "rl:" + op + ":" + clientKey(client) + ":"

	curr, err := l.c.Increment(ctx, base+strconv.FormatInt(idx, 10), 2*l.o.Window)
	if err != nil {
		return l.failOpen(ctx, op, err)
	}
	var prev uint64
	switch raw, err := l.c.Get(ctx, base+strconv.FormatInt(idx-1, 10)); {
	case err == nil:
		prev, _ = strconv.ParseUint(string(raw), 10, 64)
	case !errors.Is(err, cache.ErrCacheMiss):
		return l.failOpen(ctx, op, err)
	}
	frac := float64(elapsed) / float64(l.o.Window)
	limit := float64(l.o.Limit)
	if float64(prev)*(1-frac)+float64(curr) <= limit {
		l.checks.WithLabelValues(op, "allowed").Inc()
		return nil
	}
	l.checks.WithLabelValues(op, "limited").Inc()
	return apperr.RateLimited(fmt.Sprintf("too many %s calls from this address: try again later", op),
		retryAfter(float64(prev), float64(curr), limit, elapsed, l.o.Window))
}

// retryAfter is when the sliding estimate, without further calls, leaves
// room for one more call; at least a second.
func retryAfter(prev, curr, limit float64, elapsed, window time.Duration) time.Duration {
	target := limit - 1 // the estimate that lets the next call through
	var wait time.Duration
	if curr >= target {
		// This window must end and enough of it slide out:
		// curr*(1-f) <= target.
		wait = window - elapsed + time.Duration(float64(window)*(1-target/curr))
	} else {
		// The previous window must slide out: prev*(1-f) <= target-curr.
		wait = time.Duration((1-(target-curr)/prev)*float64(window)) - elapsed
	}
	return max(wait, time.Second)
}

func (l *Limiter) failOpen(ctx context.Context, op string, err error) error {
	l.checks.WithLabelValues(op, "error").Inc()
	if ctx.Err() != nil {
		return nil
	}
	// Warn at most every ten seconds: the cache's own metrics and logs
	// carry the detail.
	now := time.Now().UnixNano()
	if last := l.warned.Load(); now-last >= int64(10*time.Second) && l.warned.CompareAndSwap(last, now) {
		l.o.Logger.WarnContext(ctx, "rate limit not enforced: the cache failed", "op", op, "error", err)
	}
	return nil
}

// clientKey turns a client address into a cache key part: a hash, so
// addresses never appear in the cache, of the address or, for IPv6, of its
// /64.
func clientKey(client string) string {
	if addr, err := netip.ParseAddr(client); err == nil {
		addr = addr.Unmap()
		if addr.Is6() {
			p, _ := addr.Prefix(64)
			client = p.String()
		} else {
			client = addr.String()
		}
	}
	sum := sha256.Sum256([]byte(client))
	return hex.EncodeToString(sum[:16])
}
