package ship

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// stalledReceiver accepts syslog connections and reads only the first
// byte of each, as a receiver that hangs or a peer behind a black-holed
// route looks from the sender once the socket buffers are full.
type stalledReceiver struct {
	addr string
	// accepted and sending receive for each connection: when it is
	// accepted, and when its first byte arrived.
	accepted, sending chan struct{}
}

func newStalledReceiver(t *testing.T) *stalledReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &stalledReceiver{addr: ln.Addr().String(),
		accepted: make(chan struct{}, 16), sending: make(chan struct{}, 16)}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			signal(r.accepted)
			go func() {
				if n, _ := c.Read(make([]byte, 1)); n > 0 {
					signal(r.sending)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return r
}

// signal sends on ch without blocking; a full ch already holds a signal.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// await fails t unless ch receives within 15s.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not happen within 15s", what)
	}
}

// TestSyslogStalledReceiverDoesNotHangReconfiguration fills the socket
// towards a receiver that stops reading, then moves the sink elsewhere and
// closes the manager: neither may wait on the stuck write, since
// Configure holds the lock every audit event's Forward takes.
func TestSyslogStalledReceiverDoesNotHangReconfiguration(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := NewManager(ctx, Options{Registerer: prometheus.NewRegistry(), BatchSize: 100,
		Backoff: Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	spool := runtimeconfig.Spool{Dir: t.TempDir(), MaxBytes: 256 << 20}
	sink := func(addr string) runtimeconfig.Audit {
		return runtimeconfig.Audit{Spool: spool, Sinks: []runtimeconfig.Sink{{Name: "siem",
			Type: runtimeconfig.SinkSyslog, Syslog: &runtimeconfig.SyslogSink{Address: addr}}}}
	}
	stalled := newStalledReceiver(t)
	if err := m.Configure(sink(stalled.addr)); err != nil {
		t.Fatal(err)
	}
	// 64 MiB is more than loopback socket buffers hold.
	line := []byte(fmt.Sprintf(`{"level":"info","operation":"tool_call","pad":%q}`, strings.Repeat("x", 64<<10)))
	for range 1024 {
		if err := m.Forward(line); err != nil {
			t.Fatal(err)
		}
	}
	// The shipper is mid-send once the receiver got its first byte; the
	// rest of the 64 MiB fills the socket buffers and blocks the write.
	await(t, stalled.accepted, "the shipper's connection")
	await(t, stalled.sending, "the shipper's first send")

	elsewhere := newStalledReceiver(t)
	done := make(chan error, 1)
	go func() {
		err := m.Configure(sink(elsewhere.addr))
		m.Close()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Configure and Close still wait for a write to a receiver that does not read")
	}
}

// TestSyslogWriteTimeout sends a batch larger than the socket buffers to a
// receiver that never reads: the send fails within the write timeout, so
// the shipper counts a failure and retries instead of hanging.
func TestSyslogWriteTimeout(t *testing.T) {
	s := &SyslogSink{Address: newStalledReceiver(t).addr, WriteTimeout: 200 * time.Millisecond}
	defer s.Close()
	line := []byte(fmt.Sprintf(`{"level":"info","pad":%q}`, strings.Repeat("x", 64<<10)))
	batch := make([]Record, 1024)
	for i := range batch {
		batch[i] = Record{Line: line, Appended: time.Now()}
	}
	done := make(chan error, 1)
	go func() { done <- s.Send(context.Background(), batch) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a batch to a receiver that reads nothing was reported sent")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Send to a receiver that does not read did not time out")
	}
}
