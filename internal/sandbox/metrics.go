package sandbox

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the result label of sandbox_runs_total.
const (
	resultOK          = "ok"
	resultNonzeroExit = "nonzero_exit"
	resultFailed      = "failed"
)

// Values of the cause label of sandbox_failures_total, beyond the LimitKind
// values, which are used as they are.
const (
	causeInvalidModule   = "invalid_module"
	causeForbiddenImport = "forbidden_import"
	causeTrap            = "trap"
	causeCanceled        = "canceled"
	causeClosed          = "closed"
	causeInternal        = "internal"
)

// Metrics are the Prometheus collectors of a Runner. They are not
// registered anywhere until Register is called, so tests and several
// runners can each have their own.
type Metrics struct {
	// Runs counts finished runs by result: ok, nonzero_exit or failed.
	Runs *prometheus.CounterVec
	// Failures counts failed runs by cause: a LimitKind, invalid_module,
	// forbidden_import, trap, canceled, closed or internal.
	Failures *prometheus.CounterVec
	// Duration observes the wall time of runs that reached execution.
	Duration prometheus.Histogram
	// CacheHits and CacheMisses count compiled-module cache lookups.
	CacheHits   prometheus.Counter
	CacheMisses prometheus.Counter
}

// NewMetrics returns unregistered collectors. Every result and cause
// starts at zero, so the series exist from the first scrape and an alert
// on increase() sees the first failure rather than a series appearing.
func NewMetrics() *Metrics {
	m := &Metrics{
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sandbox_runs_total",
			Help: "Sandbox runs by result (ok, nonzero_exit, failed).",
		}, []string{"result"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sandbox_failures_total",
			Help: "Failed sandbox runs by cause.",
		}, []string{"cause"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sandbox_run_duration_seconds",
			Help: "Wall time of sandbox runs that reached execution.",
			// From a cached sub-millisecond run to the longest allowed timeout.
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		CacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sandbox_cache_hits_total",
			Help: "Runs served by an already compiled module.",
		}),
		CacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sandbox_cache_misses_total",
			Help: "Runs that had to compile their module.",
		}),
	}
	for _, r := range []string{resultOK, resultNonzeroExit, resultFailed} {
		m.Runs.WithLabelValues(r)
	}
	for _, c := range []string{string(LimitTimeout), string(LimitMemory), string(LimitOutput),
		string(LimitModuleSize), string(LimitConcurrency), causeInvalidModule, causeForbiddenImport,
		causeTrap, causeCanceled, causeClosed, causeInternal} {
		m.Failures.WithLabelValues(c)
	}
	return m
}

// Register registers every collector with reg, reporting all failures.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	var errs []error
	for _, c := range []prometheus.Collector{m.Runs, m.Failures, m.Duration, m.CacheHits, m.CacheMisses} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cacheLookup counts one cache lookup.
func (m *Metrics) cacheLookup(hit bool) {
	if hit {
		m.CacheHits.Inc()
		return
	}
	m.CacheMisses.Inc()
}

// finished counts one run, given its result and error.
func (m *Metrics) finished(res *Result, err error) {
	if res != nil && res.Duration > 0 {
		m.Duration.Observe(res.Duration.Seconds())
	}
	switch {
	case err != nil:
		m.Runs.WithLabelValues(resultFailed).Inc()
		m.Failures.WithLabelValues(failureCause(err)).Inc()
	case res.Trap != "":
		m.Runs.WithLabelValues(resultFailed).Inc()
		m.Failures.WithLabelValues(causeTrap).Inc()
	case res.ExitCode != 0:
		m.Runs.WithLabelValues(resultNonzeroExit).Inc()
	default:
		m.Runs.WithLabelValues(resultOK).Inc()
	}
}

func failureCause(err error) string {
	switch {
	case LimitHit(err) != "":
		return string(LimitHit(err))
	case errors.Is(err, ErrInvalidModule):
		return causeInvalidModule
	case errors.Is(err, ErrForbiddenImport):
		return causeForbiddenImport
	case errors.Is(err, ErrClosed):
		return causeClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return causeCanceled
	default:
		return causeInternal
	}
}
