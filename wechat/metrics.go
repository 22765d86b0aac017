package wechat

import (
	"github.com/prometheus/client_golang/prometheus"

	wxmetrics "github.com/wxid/wxid/internal/metrics"
)

// metrics are the client's Prometheus collectors. They always exist; they
// are exported only when Options.Registerer is set.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxid_wechat_requests_total",
			Help: "Calls to the WeChat server API by api and result (ok, invalid_code, rate_limited, unavailable, invalid_token, bad_credentials, invalid_signature, upstream_error).",
		}, []string{"api", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wxid_wechat_request_duration_seconds",
			Help:    "Duration of calls to the WeChat server API, including reading the answer.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api"}),
	}
	m.requests = wxmetrics.Register(reg, m.requests)
	m.duration = wxmetrics.Register(reg, m.duration)
	return m
}
