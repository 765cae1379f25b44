package security

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type toolMetrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newToolMetrics(reg prometheus.Registerer) (*toolMetrics, error) {
	m := &toolMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memory_mcp_tool_calls_total",
			Help: "Tool calls by tool and result (ok, error, refused)."}, []string{"tool", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "memory_mcp_tool_duration_seconds",
			Help:    "Time spent in tools, refused calls excluded.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"tool"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering tool metrics: %w", err)
		}
	}
	return m, nil
}
