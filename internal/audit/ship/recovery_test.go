package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// tornWriter writes the first half of the next record, then fails, as a
// disk that fills up mid-append does.
type tornWriter struct {
	segmentWriter
	tear bool
}

func (w *tornWriter) Write(p []byte) (int, error) {
	if !w.tear {
		return w.segmentWriter.Write(p)
	}
	w.tear = false
	n, err := w.segmentWriter.Write(p[:len(p)/2])
	return n, errors.Join(errors.New("no space left on device"), err)
}

func TestSpoolCutsATornWrite(t *testing.T) {
	dir := t.TempDir()
	var corrupt []int64
	opts := SpoolOptions{MaxBytes: 64 << 10, OnCorrupt: func(end int64, _ error) {
		corrupt = append(corrupt, end)
	}}
	s, err := OpenSpool(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	tw := &tornWriter{segmentWriter: s.w}
	s.w = tw
	now := time.Unix(1700000000, 0)
	if err := s.Append([]byte(`{"n":1}`), now); err != nil {
		t.Fatal(err)
	}
	tw.tear = true
	if err := s.Append([]byte(`{"n":2}`), now); err == nil {
		t.Fatal("a failed write was reported as spooled")
	}
	if err := s.Append([]byte(`{"n":3}`), now); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Peek(10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`{"n":1}`, `{"n":3}`}, lines(recs)); diff != "" {
		t.Errorf("lines after a torn write (-want +got):\n%s", diff)
	}
	if len(corrupt) != 0 {
		t.Errorf("corrupt records at %v, want none: the torn bytes were cut", corrupt)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// stuckWriter tears the next write like tornWriter, and then can neither
// cut nor close the segment cleanly, as a failing disk may refuse both.
type stuckWriter struct {
	tornWriter
}

func (w *stuckWriter) Truncate(int64) error { return errors.New("input/output error") }

func (w *stuckWriter) Close() error {
	return errors.Join(errors.New("input/output error"), w.segmentWriter.Close())
}

// TestSpoolRecoversWhenATornSegmentCannotBeCut tears a write in a segment
// that cannot be cut back or closed cleanly, both when it holds earlier
// records and when it holds none: the failed append reports it, and the
// next append is spooled and read back without the torn bytes.
func TestSpoolRecoversWhenATornSegmentCannotBeCut(t *testing.T) {
	for _, before := range [][]string{nil, {`{"n":1}`}} {
		t.Run(fmt.Sprintf("%d records before", len(before)), func(t *testing.T) {
			var corrupt []int64
			s, err := OpenSpool(t.TempDir(), SpoolOptions{MaxBytes: 64 << 10,
				OnCorrupt: func(end int64, _ error) { corrupt = append(corrupt, end) }})
			if err != nil {
				t.Fatal(err)
			}
			sw := &stuckWriter{tornWriter{segmentWriter: s.w}}
			s.w = sw
			now := time.Unix(1700000000, 0)
			for _, line := range before {
				if err := s.Append([]byte(line), now); err != nil {
					t.Fatal(err)
				}
			}
			sw.tear = true
			if err := s.Append([]byte(`{"n":2}`), now); err == nil {
				t.Fatal("a failed write was reported as spooled")
			}
			if err := s.Append([]byte(`{"n":3}`), now); err != nil {
				t.Fatalf("append after a torn write that could not be cut: %v", err)
			}
			recs, err := s.Peek(10)
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(before), `{"n":3}`)
			if diff := cmp.Diff(want, lines(recs)); diff != "" {
				t.Errorf("lines after a torn write (-want +got):\n%s", diff)
			}
			if len(corrupt) != 0 {
				t.Errorf("corrupt records at %v, want none", corrupt)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSpoolSkipsCorruptRecords damages records in place, as a bad sector
// or a stray write would: the damaged ones are skipped and reported once,
// and the ones after them still come out, even when the oldest is damaged.
func TestSpoolSkipsCorruptRecords(t *testing.T) {
	dir := t.TempDir()
	var corrupt int
	opts := SpoolOptions{MaxBytes: 64 << 10, OnCorrupt: func(int64, error) { corrupt++ }}
	s, err := OpenSpool(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.Append(fmt.Appendf(nil, `{"n":%d}`, i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	damage(t, dir, `{"n":0}`)
	damage(t, dir, `{"n":2}`)

	for range 3 { // several reads count each damaged record once
		recs, err := s.Peek(10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{`{"n":1}`, `{"n":3}`, `{"n":4}`}, lines(recs)); diff != "" {
			t.Fatalf("lines (-want +got):\n%s", diff)
		}
	}
	if corrupt != 2 {
		t.Errorf("corrupt records reported %d times, want 2", corrupt)
	}
	// The damaged oldest record was acknowledged: nothing will send it.
	if used, want := s.Used(), int64(4*len(encodeRecord([]byte(`{"n":0}`), time.Now()))); used != want {
		t.Errorf("used = %d, want %d", used, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// damage flips a byte of line inside the spool's segment files.
func damage(t *testing.T, dir, line string) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	for _, seg := range segs {
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, []byte(line)); i >= 0 {
			data[i+2] = 'X'
			if err := os.WriteFile(seg, data, 0o600); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("line %s not in the spool", line)
}

func TestSpoolReopenIgnoresBytesPastASegment(t *testing.T) {
	dir := t.TempDir()
	var corrupt int
	opts := SpoolOptions{MaxBytes: 32 << 10, OnCorrupt: func(int64, error) { corrupt++ }}
	s, err := OpenSpool(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; len(s.segments) < 2; i++ {
		line := fmt.Sprintf(`{"n":%d}`, i)
		want = append(want, line)
		if err := s.Append([]byte(line), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	first := s.segmentPath(s.segments[0].start)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn write that could not be cut stays past the end of its segment.
	f, err := os.OpenFile(first, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`0000000000000001 00000000 {"to`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSpool(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.Peek(100000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, lines(recs)); diff != "" {
		t.Errorf("lines after reopen (-want +got):\n%s", diff)
	}
	if corrupt != 0 {
		t.Errorf("%d corrupt records, want none", corrupt)
	}
}

// switchableCollector answers 503 until up is set, then records each
// NDJSON line it receives.
type switchableCollector struct {
	up  atomic.Bool
	mu  sync.Mutex
	got []string
}

func (c *switchableCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.up.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		c.got = append(c.got, string(l))
	}
}

func (c *switchableCollector) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// TestShipperSkipsACorruptOldestRecord leaves a damaged record at the head
// of a spool: the lag still shows the unshipped events behind it, the
// damage is counted, and the rest ships once the sink is back.
func TestShipperSkipsACorruptOldestRecord(t *testing.T) {
	spoolDir := t.TempDir()
	appended := time.Unix(1700000000, 0)
	s, err := OpenSpool(filepath.Join(spoolDir, "collector"), SpoolOptions{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Append(fmt.Appendf(nil, `{"n":%d}`, i), appended); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	damage(t, filepath.Join(spoolDir, "collector"), `{"n":0}`)

	col := &switchableCollector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := NewManager(ctx, Options{Registerer: prometheus.NewRegistry(),
		Backoff: Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond},
		Now:     func() time.Time { return appended.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Configure(runtimeconfig.Audit{Spool: runtimeconfig.Spool{Dir: spoolDir, MaxBytes: 1 << 20},
		Sinks: []runtimeconfig.Sink{{Name: "collector", Type: runtimeconfig.SinkHTTP,
			HTTP: &runtimeconfig.HTTPSink{URL: srv.URL, Format: runtimeconfig.FormatNDJSON}}}})
	if err != nil {
		t.Fatal(err)
	}

	awaitCondition(t, 10*time.Second, func() bool {
		return testutil.ToFloat64(m.metrics.lag.WithLabelValues("collector")) == 3600 &&
			testutil.ToFloat64(m.metrics.failures.WithLabelValues("collector")) > 0
	})
	if n := testutil.ToFloat64(m.metrics.corrupt.WithLabelValues("collector")); n != 1 {
		t.Errorf("audit_spool_corrupt_records_total = %v, want 1", n)
	}
	col.up.Store(true)
	awaitCondition(t, 10*time.Second, func() bool { return len(col.lines()) >= 2 })
	if diff := cmp.Diff([]string{`{"n":1}`, `{"n":2}`}, col.lines()); diff != "" {
		t.Errorf("shipped (-want +got):\n%s", diff)
	}
}

// mappingErrorCollector refuses for good every bulk item whose document
// holds "bad", and records the rest with the index they were sent to.
type mappingErrorCollector struct {
	mu      sync.Mutex
	got     []string
	indexes map[string]bool
	bad     int
}

func (c *mappingErrorCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	var items []map[string]any
	for i := 0; i+1 < len(parts); i += 2 {
		var action struct {
			Create struct {
				Index string `json:"_index"`
			} `json:"create"`
		}
		_ = json.Unmarshal(parts[i], &action)
		c.indexes[action.Create.Index] = true
		status := 201
		if bytes.Contains(parts[i+1], []byte("bad")) {
			status = 400
			c.bad++
		} else {
			c.got = append(c.got, string(parts[i+1]))
		}
		items = append(items, map[string]any{"create": map[string]any{"status": status,
			"error": map[string]string{"type": "mapper_parsing_exception"}}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": true, "items": items})
}

// TestBulkItemRefusedForGoodDoesNotStallTheSink sends a batch where one
// event hits a mapping error: it is counted once and not sent again, and
// the events around it and after it are delivered.
func TestBulkItemRefusedForGoodDoesNotStallTheSink(t *testing.T) {
	col := &mappingErrorCollector{indexes: map[string]bool{}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := NewManager(ctx, Options{Registerer: prometheus.NewRegistry(), BatchSize: 4,
		Backoff: Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Configure(runtimeconfig.Audit{Spool: runtimeconfig.Spool{Dir: t.TempDir(), MaxBytes: 1 << 20},
		Sinks: []runtimeconfig.Sink{{Name: "es", Type: runtimeconfig.SinkHTTP,
			HTTP: &runtimeconfig.HTTPSink{URL: srv.URL, Format: runtimeconfig.FormatElasticsearch}}}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 10 {
		line := fmt.Sprintf(`{"n":%d}`, i)
		if i == 1 {
			line = `{"n":"bad"}`
		} else {
			want = append(want, line)
		}
		if err := m.Forward([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	awaitCondition(t, 10*time.Second, func() bool { return m.spoolUsed("es") == 0 })

	col.mu.Lock()
	defer col.mu.Unlock()
	if diff := cmp.Diff(want, col.got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if col.bad != 1 {
		t.Errorf("the refused event was sent %d times, want 1", col.bad)
	}
	if diff := cmp.Diff(map[string]bool{DefaultIndex: true}, col.indexes); diff != "" {
		t.Errorf("indexes with no index set (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(m.metrics.rejected.WithLabelValues("es")); n != 1 {
		t.Errorf("audit_shipping_rejected_events_total = %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.metrics.shipped.WithLabelValues("es")); n != 9 {
		t.Errorf("audit_shipped_events_total = %v, want 9", n)
	}
}

// spoolUsed is the unacknowledged bytes of a sink's spool.
func (m *Manager) spoolUsed(name string) int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.running[name].spool.Used()
}

// TestSinkThatCannotBeSetUpKeepsItsEvents configures a TLS sink before its
// CA file exists: events are spooled, the failed setups are counted, and
// everything is delivered once the file appears.
func TestSinkThatCannotBeSetUpKeepsItsEvents(t *testing.T) {
	col := &switchableCollector{}
	col.up.Store(true)
	srv := httptest.NewTLSServer(col)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.crt")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := NewManager(ctx, Options{Registerer: prometheus.NewRegistry(),
		Backoff: Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Configure(runtimeconfig.Audit{Spool: runtimeconfig.Spool{Dir: t.TempDir(), MaxBytes: 1 << 20},
		Sinks: []runtimeconfig.Sink{{Name: "collector", Type: runtimeconfig.SinkHTTP,
			HTTP: &runtimeconfig.HTTPSink{URL: srv.URL, Format: runtimeconfig.FormatNDJSON,
				TLS: &runtimeconfig.TLS{CAFile: caFile}}}}})
	if err == nil {
		t.Fatal("Configure did not report the missing CA file")
	}
	want := []string{`{"n":0}`, `{"n":1}`}
	for _, line := range want {
		if err := m.Forward([]byte(line)); err != nil {
			t.Fatalf("forwarding while the sink cannot be set up: %v", err)
		}
	}
	awaitCondition(t, 10*time.Second, func() bool {
		return testutil.ToFloat64(m.metrics.failures.WithLabelValues("collector")) >= 2
	})

	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	awaitCondition(t, 10*time.Second, func() bool { return len(col.lines()) >= len(want) })
	if diff := cmp.Diff(want, col.lines()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}
