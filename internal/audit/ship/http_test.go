package ship

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// flakyCollector is an HTTP sink that fails every third request, either
// with a 503 or — in bulk format — with a 200 whose items partly failed.
type flakyCollector struct {
	format string
	mu     sync.Mutex
	calls  int
	got    map[string]bool
	auth   []string
}

func (c *flakyCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	docs := c.documents(r)
	if c.calls%3 == 1 {
		if c.format == runtimeconfig.FormatElasticsearch {
			// Accept the first document only; the rest fail per item.
			c.got[docs[0]] = true
			writeBulkResponse(w, len(docs), 1)
			return
		}
		http.Error(w, "collector restarting", http.StatusServiceUnavailable)
		return
	}
	for _, d := range docs {
		c.got[d] = true
	}
	if c.format == runtimeconfig.FormatElasticsearch {
		writeBulkResponse(w, len(docs), len(docs))
	}
}

func (c *flakyCollector) documents(r *http.Request) []string {
	var docs []string
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	for i := 0; sc.Scan(); i++ {
		if c.format == runtimeconfig.FormatElasticsearch && i%2 == 0 {
			continue // the action line
		}
		docs = append(docs, sc.Text())
	}
	return docs
}

func writeBulkResponse(w http.ResponseWriter, n, ok int) {
	items := make([]map[string]any, n)
	for i := range items {
		status := 201
		if i >= ok {
			status = 429
		}
		items[i] = map[string]any{"create": map[string]any{"status": status,
			"error": map[string]string{"type": "es_rejected_execution_exception"}}}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": ok < n, "items": items})
}

func (c *flakyCollector) missing(want []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, w := range want {
		if !c.got[w] {
			out = append(out, w)
		}
	}
	return out
}

func TestHTTPSinkAtLeastOnceThroughOutages(t *testing.T) {
	for _, format := range []string{runtimeconfig.FormatNDJSON, runtimeconfig.FormatElasticsearch} {
		t.Run(format, func(t *testing.T) {
			col := &flakyCollector{format: format, got: map[string]bool{}}
			srv := httptest.NewServer(col)
			defer srv.Close()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reg := prometheus.NewRegistry()
			m, err := NewManager(ctx, Options{Registerer: reg, BatchSize: 7,
				Backoff: Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			authFile := t.TempDir() + "/authorization"
			if err := writeFile(authFile, "Bearer sink-credential\n"); err != nil {
				t.Fatal(err)
			}
			err = m.Configure(runtimeconfig.Audit{
				Sinks: []runtimeconfig.Sink{{Name: "collector", Type: runtimeconfig.SinkHTTP,
					HTTP: &runtimeconfig.HTTPSink{URL: srv.URL, Format: format, Index: "audit",
						AuthorizationFile: authFile}}},
				Spool: runtimeconfig.Spool{Dir: t.TempDir(), MaxBytes: 1 << 20},
			})
			if err != nil {
				t.Fatal(err)
			}

			var want []string
			for i := range 100 {
				line := fmt.Sprintf(`{"timestamp":"2026-03-01T12:00:00Z","level":"info",`+
					`"operation":"tool_call","client_id":"a","result":"success","metadata":{"n":%d}}`, i)
				want = append(want, line)
				if err := m.Forward([]byte(line + "\n")); err != nil {
					t.Fatal(err)
				}
			}
			awaitCondition(t, 10*time.Second, func() bool { return len(col.missing(want)) == 0 })
			if n := testutil.ToFloat64(m.metrics.failures.WithLabelValues("collector")); n == 0 {
				t.Error("audit_shipping_failures_total stayed 0 through the outages")
			}
			col.mu.Lock()
			defer col.mu.Unlock()
			if col.auth[0] != "Bearer sink-credential" {
				t.Errorf("Authorization = %q", col.auth[0])
			}
		})
	}
}

// awaitCondition polls cond until it holds or the timeout passes.
func awaitCondition(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBulkErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
	}{
		{"all created", `{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, false},
		{"one throttled", `{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429}}]}`, true},
		{"items missing", `{"errors":true,"items":[{"create":{"status":429}}]}`, true},
		{"not json", `<html>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := bulkErrors([]byte(tt.body), 2); (err != nil) != tt.wantErr {
				t.Errorf("bulkErrors() = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestBulkErrorsSortsRetryFromRejected(t *testing.T) {
	body := `{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429}},` +
		`{"create":{"status":400,"error":{"type":"mapper_parsing_exception"}}},` +
		`{"create":{"status":503}},{"create":{"status":404}}]}`
	var partial *PartialError
	if err := bulkErrors([]byte(body), 5); !errors.As(err, &partial) {
		t.Fatalf("bulkErrors() = %v, want a *PartialError", err)
	}
	if diff := cmp.Diff([]int{1, 3}, partial.Retry); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}
	var rejected []int
	for _, r := range partial.Rejected {
		rejected = append(rejected, r.Index)
	}
	if diff := cmp.Diff([]int{2, 4}, rejected); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
}
