package ship

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sink delivers batches of audit lines. Send returns nil only when the
// whole batch was accepted; any error makes the shipper send it again.
type Sink interface {
	Send(ctx context.Context, batch []Record) error
	Close() error
}

// Backoff bounds the waits between failed sends.
type Backoff struct {
	Initial, Max time.Duration
}

// delay returns the wait before retry n (from 0): doubling from Initial up to
// Max, with a fifth of jitter so many servers do not retry in step.
func (b Backoff) delay(n int) time.Duration {
	d := b.Initial << min(n, 30)
	if d <= 0 || d > b.Max {
		d = b.Max
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return d - jitter
}

// shipper drains one spool into one sink.
type shipper struct {
	name    string
	spool   *Spool
	sink    Sink
	batch   int
	backoff Backoff
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
}

// run ships until ctx ends.
func (s *shipper) run(ctx context.Context) {
	// The sink's counters start at zero, so an alert on their increase
	// fires on the first failure instead of waiting for a second.
	s.metrics.failures.WithLabelValues(s.name)
	s.metrics.shipped.WithLabelValues(s.name)
	failures := 0
	for {
		recs, err := s.spool.Peek(s.batch)
		if err != nil {
			s.log.Error("reading audit spool", "sink", s.name, "error", err)
		}
		s.reportLag(recs)
		if len(recs) == 0 {
			if !s.wait(ctx, s.spool.Notify(), time.Second) {
				return
			}
			continue
		}
		if err := s.sink.Send(ctx, recs); err != nil {
			s.metrics.failures.WithLabelValues(s.name).Inc()
			s.log.Warn("shipping audit events failed; retrying",
				"sink", s.name, "events", len(recs), "attempt", failures+1, "error", err)
			if !s.wait(ctx, nil, s.backoff.delay(failures)) {
				return
			}
			failures++
			continue
		}
		failures = 0
		s.metrics.shipped.WithLabelValues(s.name).Add(float64(len(recs)))
		if err := s.spool.Ack(recs[len(recs)-1].End); err != nil {
			s.log.Error("acknowledging shipped audit events", "sink", s.name, "error", err)
		}
	}
}

func (s *shipper) reportLag(recs []Record) {
	lag := 0.0
	if len(recs) > 0 {
		lag = s.now().Sub(recs[0].Appended).Seconds()
	}
	s.metrics.lag.WithLabelValues(s.name).Set(lag)
}

// wait returns false when ctx ended.
func (s *shipper) wait(ctx context.Context, wake <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

// Metrics are the shipping metrics, labelled by sink name.
type Metrics struct {
	lag      *prometheus.GaugeVec
	failures *prometheus.CounterVec
	shipped  *prometheus.CounterVec
}

// NewMetrics creates the shipping metrics and registers them on reg when
// not nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "audit_shipping_lag_seconds",
			Help: "Age of the oldest audit event not yet accepted by the sink."}, []string{"sink"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audit_shipping_failures_total",
			Help: "Failed attempts to send a batch of audit events."}, []string{"sink"}),
		shipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audit_shipped_events_total",
			Help: "Audit events accepted by the sink."}, []string{"sink"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.lag, m.failures, m.shipped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
