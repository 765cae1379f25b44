package ship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sink delivers batches of audit lines. Send returns nil only when the
// whole batch was accepted. A *PartialError says which records to send
// again and which the sink refused for good; any other error makes the
// shipper send the whole batch again.
type Sink interface {
	Send(ctx context.Context, batch []Record) error
	Close() error
}

// PartialError reports a batch the sink took in part.
type PartialError struct {
	// Retry are the indexes in the batch of records that failed for a
	// reason that may pass (throttling, an overloaded node).
	Retry []int
	// Rejected are the records refused for good (a mapping error, say):
	// sending them again would fail the same way.
	Rejected []Rejection
}

// Rejection is one record a sink refused for good.
type Rejection struct {
	Index  int
	Reason string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("sink took the batch in part: %d to retry, %d refused for good",
		len(e.Retry), len(e.Rejected))
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
	name  string
	spool *Spool
	// sink is built by newSink on first use, and again after newSink failed,
	// so a sink that cannot be set up yet (a CA file not mounted yet, say)
	// keeps its events in the spool and is retried with backoff.
	sink    Sink
	newSink func() (Sink, error)
	batch   int
	backoff Backoff
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
}

// run ships until ctx ends.
func (s *shipper) run(ctx context.Context) {
	defer s.closeSink()
	// The sink's counters start at zero, so an alert on their increase
	// fires on the first failure instead of waiting for a second.
	for _, c := range []*prometheus.CounterVec{s.metrics.failures, s.metrics.shipped,
		s.metrics.rejected, s.metrics.corrupt} {
		c.WithLabelValues(s.name)
	}
	for {
		recs, ok := s.next(ctx)
		if !ok {
			return
		}
		if !s.deliver(ctx, recs) {
			return
		}
		if err := s.spool.Ack(recs[len(recs)-1].End); err != nil {
			s.log.Error("acknowledging shipped audit events", "sink", s.name, "error", err)
		}
	}
}

// next waits for a batch; it returns false when ctx ended.
func (s *shipper) next(ctx context.Context) ([]Record, bool) {
	for {
		recs, err := s.spool.Peek(s.batch)
		if err != nil {
			s.log.Error("reading audit spool", "sink", s.name, "error", err)
		}
		if len(recs) > 0 {
			return recs, true
		}
		// A read error leaves the lag as it was: the spool may still hold
		// events, and a lag of zero would say it does not.
		if err == nil {
			s.metrics.lag.WithLabelValues(s.name).Set(0)
		}
		if !s.wait(ctx, s.spool.Notify(), time.Second) {
			return nil, false
		}
	}
}

// deliver sends batch until every record was accepted or refused for good;
// it returns false when ctx ended first.
func (s *shipper) deliver(ctx context.Context, batch []Record) bool {
	pending := batch
	for attempt := 0; ; attempt++ {
		s.metrics.lag.WithLabelValues(s.name).Set(s.now().Sub(batch[0].Appended).Seconds())
		var err error
		pending, err = s.settle(pending, s.send(ctx, pending))
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			// The shipper was stopped mid-send, by a shutdown or a changed
			// config, not failed by the sink: the batch stays in the spool.
			return false
		}
		s.metrics.failures.WithLabelValues(s.name).Inc()
		s.log.Warn("shipping audit events failed; retrying",
			"sink", s.name, "events", len(pending), "attempt", attempt+1, "error", err)
		if !s.wait(ctx, nil, s.backoff.delay(attempt)) {
			return false
		}
	}
}

func (s *shipper) send(ctx context.Context, recs []Record) error {
	if s.sink == nil {
		sink, err := s.newSink()
		if err != nil {
			return fmt.Errorf("setting up the sink: %w", err)
		}
		s.sink = sink
	}
	return s.sink.Send(ctx, recs)
}

// settle counts what the sink accepted and refused for good, and returns
// the records to send again with the error that calls for it.
func (s *shipper) settle(sent []Record, err error) ([]Record, error) {
	var partial *PartialError
	if err != nil && !errors.As(err, &partial) {
		return sent, err
	}
	if partial == nil {
		s.metrics.shipped.WithLabelValues(s.name).Add(float64(len(sent)))
		return nil, nil
	}
	for _, r := range partial.Rejected {
		s.metrics.rejected.WithLabelValues(s.name).Inc()
		s.log.Error("audit sink refused an event for good; it stays in the local audit log only",
			"sink", s.name, "spool_offset", sent[r.Index].End, "reason", r.Reason)
	}
	accepted := len(sent) - len(partial.Rejected) - len(partial.Retry)
	s.metrics.shipped.WithLabelValues(s.name).Add(float64(accepted))
	if len(partial.Retry) == 0 {
		return nil, nil
	}
	retry := make([]Record, len(partial.Retry))
	for i, idx := range partial.Retry {
		retry[i] = sent[idx]
	}
	return retry, err
}

func (s *shipper) closeSink() {
	if s.sink == nil {
		return
	}
	if err := s.sink.Close(); err != nil {
		// The shipper stopped; nothing is left to deliver on this sink.
		s.log.Debug("closing audit sink", "sink", s.name, "error", err)
	}
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
	rejected *prometheus.CounterVec
	corrupt  *prometheus.CounterVec
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
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audit_shipping_rejected_events_total",
			Help: "Audit events the sink refused for good; they are kept only locally."}, []string{"sink"}),
		corrupt: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audit_spool_corrupt_records_total",
			Help: "Spool records skipped because they were torn or failed their checksum."},
			[]string{"sink"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.lag, m.failures, m.shipped, m.rejected, m.corrupt} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
