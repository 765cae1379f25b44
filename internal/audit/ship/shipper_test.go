package ship

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// hangingSink blocks every send until its context ends, as a sink does
// that is slow to answer when the shipper is stopped.
type hangingSink struct {
	sending chan struct{}
}

func (s *hangingSink) Send(ctx context.Context, _ []Record) error {
	s.sending <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func (s *hangingSink) Close() error { return nil }

// TestShipperStoppedMidSendIsNoFailure stops a shipper while its sink is
// still taking a batch: the stop is not counted as a failed send, and the
// batch stays in the spool for the next shipper.
func TestShipperStoppedMidSendIsNoFailure(t *testing.T) {
	spool, err := OpenSpool(t.TempDir(), SpoolOptions{MaxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	if err := spool.Append([]byte(`{"n":1}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	metrics, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &hangingSink{sending: make(chan struct{}, 1)}
	s := &shipper{name: "siem", spool: spool, sink: sink, batch: 10, metrics: metrics,
		log: slog.New(slog.DiscardHandler), now: time.Now,
		backoff: Backoff{Initial: time.Millisecond, Max: time.Millisecond}}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx)
	}()
	<-sink.sending
	cancel()
	<-done

	if n := testutil.ToFloat64(metrics.failures.WithLabelValues("siem")); n != 0 {
		t.Errorf("audit_shipping_failures_total = %v after a stop mid-send, want 0", n)
	}
	if used := spool.Used(); used == 0 {
		t.Error("the batch interrupted by the stop was acknowledged")
	}
}
