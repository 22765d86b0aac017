package session

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	resolved  *prometheus.CounterVec
	issued    prometheus.Counter
	refreshed prometheus.Counter
	revoked   prometheus.Counter
	purged    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		resolved: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxid_session_resolutions_total",
			Help: "skey resolutions by source (cache, db, none) and result (ok, invalid).",
		}, []string{"source", "result"})),
		issued: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_issued_total", Help: "Sessions issued by login.",
		})),
		refreshed: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_refreshed_total", Help: "skeys rotated by refreshSession.",
		})),
		revoked: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_revoked_total", Help: "Sessions revoked by logout or an admin.",
		})),
		purged: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_purged_total", Help: "Dead sessions deleted by housekeeping.",
		})),
	}
}

// register registers c, or returns the collector already registered under
// its name (several managers may share one registry in tests).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
