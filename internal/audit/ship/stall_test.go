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

// stalledReceiver accepts syslog connections and never reads from them,
// as a receiver that hangs or a peer behind a black-holed route looks from
// the sender once the socket buffers are full.
func stalledReceiver(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	return ln.Addr().String()
}

// TestSyslogStalledReceiverDoesNotHangReconfiguration fills the socket
// towards a receiver that never reads, then moves the sink elsewhere and
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
	if err := m.Configure(sink(stalledReceiver(t))); err != nil {
		t.Fatal(err)
	}
	// 64 MiB is more than loopback socket buffers hold.
	line := []byte(fmt.Sprintf(`{"level":"info","operation":"tool_call","pad":%q}`, strings.Repeat("x", 64<<10)))
	for range 1024 {
		if err := m.Forward(line); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let the shipper block in its write

	done := make(chan error, 1)
	go func() {
		err := m.Configure(sink(stalledReceiver(t)))
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
	s := &SyslogSink{Address: stalledReceiver(t), WriteTimeout: 200 * time.Millisecond}
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
