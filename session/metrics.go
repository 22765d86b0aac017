package session

import (
	"github.com/prometheus/client_golang/prometheus"

	wxmetrics "github.com/wxid/wxid/internal/metrics"
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
		resolved: wxmetrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxid_session_resolutions_total",
			Help: "skey resolutions by source (cache, db, none) and result (ok, invalid).",
		}, []string{"source", "result"})),
		issued: wxmetrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_issued_total", Help: "Sessions issued by login.",
		})),
		refreshed: wxmetrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_refreshed_total", Help: "skeys rotated by refreshSession.",
		})),
		revoked: wxmetrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_revoked_total", Help: "Sessions revoked by logout or an admin.",
		})),
		purged: wxmetrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxid_sessions_purged_total", Help: "Dead sessions deleted by housekeeping.",
		})),
	}
}
