// Package metrics holds the one helper wxid's packages share to register
// their Prometheus collectors.
package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it, or returns the collector
// registered before under the same name: several clients, caches or
// managers may share one registry (tests build many). A nil reg leaves c
// unregistered. Any other registration failure is a programming error and
// panics, as prometheus.MustRegister does.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("metrics: registering %T: %v", c, err))
}
