package audit

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the audit counters that alerts are written against.
type Metrics struct {
	authFailures       prometheus.Counter
	rateLimitViolation prometheus.Counter
	securityViolation  prometheus.Counter
	bulkOperations     prometheus.Counter
	spoolOverflow      prometheus.Counter
	writeFailures      prometheus.Counter
}

// NewMetrics creates the counters and registers them on reg when not nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		authFailures:       c("audit_authentication_failures_total", "Failed authentications."),
		rateLimitViolation: c("audit_rate_limit_violations_total", "Calls refused by a rate limit."),
		securityViolation:  c("audit_security_violations_total", "Calls refused by a security policy."),
		bulkOperations:     c("audit_bulk_operations_total", "Bulk episode operations."),
		spoolOverflow: c("audit_spool_overflow_total",
			"Audit events kept only in the local audit log because the shipping spool was full."),
		writeFailures: c("audit_write_failures_total", "Audit events the local destination refused."),
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.authFailures, m.rateLimitViolation,
		m.securityViolation, m.bulkOperations, m.spoolOverflow, m.writeFailures} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("registering audit metrics: %w", err)
		}
	}
	return m, nil
}

// count updates the counters for e. It runs before the level filter, so a
// quiet audit level never hides refusals from the metrics.
func (m *Metrics) count(e Event) {
	switch {
	case e.Operation == OpAuthentication && e.Result != ResultSuccess:
		m.authFailures.Inc()
	case e.Operation == OpRateLimitViolation:
		m.rateLimitViolation.Inc()
	case e.Operation == OpSecurityViolation:
		m.securityViolation.Inc()
	case e.Operation == OpBulkEpisodes:
		m.bulkOperations.Inc()
	}
}
