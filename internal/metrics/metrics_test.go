package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	newVec := func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a"})
	}
	first := Register(reg, newVec())
	second := Register(reg, newVec())
	require.Same(t, first, second, "the collector registered first is shared")

	unregistered := newVec()
	require.Same(t, unregistered, Register(nil, unregistered))

	require.Panics(t, func() {
		Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"b"}))
	}, "same name, other labels: a programming error")
}
