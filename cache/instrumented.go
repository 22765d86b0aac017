package cache

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxid/wxid/internal/metrics"
)

// Metric label values of wxid_cache_operations_total.
const (
	resultHit       = "hit"
	resultMiss      = "miss"
	resultOK        = "ok"
	resultNotStored = "not_stored"
	resultError     = "error"
	resultSkipped   = "skipped"
)

// Instrumented wraps a Cache, counting every operation in the Prometheus
// counter wxid_cache_operations_total{op,result} and logging failures. op is
// get, set, add, delete, incr or ping; result is hit or miss (get), ok,
// not_stored (add on a taken key), skipped (ErrUnavailable: a Breaker below
// left the cache alone) or error. Misses, not-stored and skipped are normal
// outcomes and are not logged (the Breaker logs the circuit opening); other
// errors are logged at warn level (a canceled context at debug) with the
// operation, never the key or value.
type Instrumented struct {
	next Cache
	log  *slog.Logger

	getHit, getMiss, getErr     prometheus.Counter
	setOK, setErr               prometheus.Counter
	addOK, addNotStored, addErr prometheus.Counter
	deleteOK, deleteErr         prometheus.Counter
	pingOK, pingErr             prometheus.Counter
	incrOK, incrErr             prometheus.Counter
	ops                         *prometheus.CounterVec
}

var _ Counter = (*Instrumented)(nil)

// NewInstrumented wraps next. The counter is registered on reg unless reg is
// nil; when reg already holds it (several caches in one process or test),
// the registered one is shared. Any other registration failure is a
// programming error and panics, like prometheus.MustRegister. logger nil
// means slog.Default().
func NewInstrumented(next Cache, reg prometheus.Registerer, logger *slog.Logger) *Instrumented {
	if logger == nil {
		logger = slog.Default()
	}
	ops := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxid_cache_operations_total",
		Help: "Cache operations by operation (get, set, add, delete, incr, ping) and result (hit, miss, ok, not_stored, skipped, error).",
	}, []string{"op", "result"})
	ops = metrics.Register(reg, ops)
	c := func(op, result string) prometheus.Counter { return ops.WithLabelValues(op, result) }
	return &Instrumented{
		next: next,
		log:  logger,
		ops:  ops,

		getHit: c("get", resultHit), getMiss: c("get", resultMiss), getErr: c("get", resultError),
		setOK: c("set", resultOK), setErr: c("set", resultError),
		addOK: c("add", resultOK), addNotStored: c("add", resultNotStored), addErr: c("add", resultError),
		deleteOK: c("delete", resultOK), deleteErr: c("delete", resultError),
		pingOK: c("ping", resultOK), pingErr: c("ping", resultError),
		incrOK: c("incr", resultOK), incrErr: c("incr", resultError),
	}
}

// Unwrap returns the wrapped Cache.
func (i *Instrumented) Unwrap() Cache { return i.next }

// Get implements Cache.
func (i *Instrumented) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := i.next.Get(ctx, key)
	switch {
	case err == nil:
		i.getHit.Inc()
	case errors.Is(err, ErrCacheMiss):
		i.getMiss.Inc()
	case errors.Is(err, ErrUnavailable):
		i.ops.WithLabelValues("get", resultSkipped).Inc()
	default:
		i.getErr.Inc()
		i.logError(ctx, "get", err)
	}
	return v, err
}

// Set implements Cache.
func (i *Instrumented) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := i.next.Set(ctx, key, value, ttl)
	i.count(ctx, "set", err, i.setOK, i.setErr)
	return err
}

// Add implements Cache.
func (i *Instrumented) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := i.next.Add(ctx, key, value, ttl)
	if errors.Is(err, ErrNotStored) {
		i.addNotStored.Inc()
		return err
	}
	i.count(ctx, "add", err, i.addOK, i.addErr)
	return err
}

// Delete implements Cache.
func (i *Instrumented) Delete(ctx context.Context, key string) error {
	err := i.next.Delete(ctx, key)
	i.count(ctx, "delete", err, i.deleteOK, i.deleteErr)
	return err
}

// Increment implements Counter; ErrNotCounter when the wrapped cache keeps
// no counters.
func (i *Instrumented) Increment(ctx context.Context, key string, ttl time.Duration) (uint64, error) {
	counter, ok := i.next.(Counter)
	if !ok {
		return 0, ErrNotCounter
	}
	n, err := counter.Increment(ctx, key, ttl)
	i.count(ctx, "incr", err, i.incrOK, i.incrErr)
	return n, err
}

// Ping implements Cache.
func (i *Instrumented) Ping(ctx context.Context) error {
	err := i.next.Ping(ctx)
	i.count(ctx, "ping", err, i.pingOK, i.pingErr)
	return err
}

func (i *Instrumented) count(ctx context.Context, op string, err error, ok, failed prometheus.Counter) {
	if err == nil {
		ok.Inc()
		return
	}
	if errors.Is(err, ErrUnavailable) {
		i.ops.WithLabelValues(op, resultSkipped).Inc()
		return
	}
	failed.Inc()
	i.logError(ctx, op, err)
}

func (i *Instrumented) logError(ctx context.Context, op string, err error) {
	level := slog.LevelWarn
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug
	}
	i.log.LogAttrs(ctx, level, "cache operation failed", slog.String("op", op), slog.Any("error", err))
}
