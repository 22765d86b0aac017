package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxid/wxid/config"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/errmap"
	"github.com/wxid/wxid/graphqlhttp"
	"github.com/wxid/wxid/internal/graphiql"
	"github.com/wxid/wxid/internal/metrics"
	"github.com/wxid/wxid/segment"
)

type requestIDKey struct{}

// RequestID returns the request ID of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewLogger returns the server's slog logger per WXID_LOG_LEVEL and
// WXID_LOG_FORMAT, adding the request ID to every record logged with a
// request's context. w nil means stderr.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

// requestIDHandler adds request_id from the record's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an ID (X-Request-Id), a deadline, panic
// recovery, an access log line at debug level and metrics.
func (a *App) observe(next http.Handler) http.Handler {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wxid_http_request_duration_seconds",
		Help:    "HTTP request latency by route and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "code"})
	duration = metrics.Register(a.Registry, duration)
	observers := &observerCache{vec: duration}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx, cancel := withRequestTimeout(context.WithValue(r.Context(), requestIDKey{}, id), r.URL.Path)
		ctx = database.Interactive(ctx) // a client waits: short statement deadlines
		defer cancel()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				err := errmap.Panic(p)
				if sw.status == 0 {
					graphqlhttp.WriteError(sw, r.WithContext(ctx), a.Log, err) // logs it
				} else {
					a.Log.ErrorContext(ctx, "panic serving request", "err", err, "path", r.URL.Path)
				}
			}
			route := routeOf(r.URL.Path)
			took := time.Since(start)
			observers.get(route, sw.status).Observe(took.Seconds())
			if a.Log.Enabled(ctx, slog.LevelDebug) {
				a.Log.DebugContext(ctx, "request", "method", r.Method, "route", route, "status", sw.status,
					"duration", took)
			}
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// observerCache keeps the histogram of each (route, status) pair, so that
// a request does not look its labels up (and format its status) again.
type observerCache struct {
	vec *prometheus.HistogramVec
	m   sync.Map // observerKey -> prometheus.Observer
}

type observerKey struct {
	route  string
	status int
}

func (c *observerCache) get(route string, status int) prometheus.Observer {
	k := observerKey{route, status}
	if o, ok := c.m.Load(k); ok {
		return o.(prometheus.Observer)
	}
	o := c.vec.WithLabelValues(route, strconv.Itoa(status))
	c.m.Store(k, o)
	return o
}

// routeOf bounds the route label's values.
func routeOf(path string) string {
	switch path {
	case "/graphql", "/healthz", "/readyz", "/metrics", "/", segment.Path:
		return path
	}
	if len(path) > len("/sandbox/") && path[:len("/sandbox/")] == "/sandbox/" {
		return "/sandbox/"
	}
	if strings.HasPrefix(path, graphiql.AssetPrefix) {
		return graphiql.AssetPrefix
	}
	return "other"
}

// withRequestTimeout bounds a request by requestTimeout, except an
// export's, which streams as long as its segment lasts.
func withRequestTimeout(ctx context.Context, path string) (context.Context, context.CancelFunc) {
	if path == segment.Path {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, requestTimeout)
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
