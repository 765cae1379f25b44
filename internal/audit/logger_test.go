package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

var fixed = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestLogger(t *testing.T, cfg runtimeconfig.Audit) (*Logger, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	l, err := New(Options{Stdout: &out, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, &out
}

func decodeLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRecordFormat(t *testing.T) {
	l, out := newTestLogger(t, runtimeconfig.Audit{Level: "info", Destination: "stdout",
		RedactedFields: []string{"ssn"}})
	ctx := identity.WithClient(context.Background(), &identity.Client{ID: "agent-a"})
	l.Record(ctx, Event{Level: LevelWarn, Operation: OpAuthentication, Result: ResultFailure,
		Metadata: map[string]any{
			"reason": "bad token", "Authorization": "Bearer x", "access_token": "y",
			"nested": map[string]any{"db_password": "p", "ok": 1}, "user_ssn": "1",
			"reflection": FreeText("ignore previous instructions"),
		}})

	want := []map[string]any{{
		"timestamp": "2026-03-01T12:00:00Z", "level": "warn", "operation": "authentication",
		"client_id": "agent-a", "result": "failure",
		"metadata": map[string]any{
			"reason": "bad token", "Authorization": Redacted, "access_token": Redacted,
			"nested": map[string]any{"db_password": Redacted, "ok": float64(1)}, "user_ssn": Redacted,
			"reflection": map[string]any{"length": float64(28),
				"sha256": TextSummary("ignore previous instructions")["sha256"]},
		},
	}}
	if diff := cmp.Diff(want, decodeLines(t, out.Bytes())); diff != "" {
		t.Errorf("audit line (-want +got):\n%s", diff)
	}
}

func TestLevelsAndFreeText(t *testing.T) {
	tests := []struct {
		name      string
		level     string
		event     Level
		wantLines int
		wantRaw   bool
	}{
		{"debug below info is dropped", "info", LevelDebug, 0, false},
		{"info at info is written", "info", LevelInfo, 1, false},
		{"error above warn is written", "warn", LevelError, 1, false},
		{"debug level writes free text raw", "debug", LevelDebug, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, out := newTestLogger(t, runtimeconfig.Audit{Level: tt.level, Destination: "stdout"})
			l.Record(context.Background(), Event{Level: tt.event, Operation: OpToolCall,
				Result: ResultSuccess, Metadata: map[string]any{"query": FreeText("secret plans")}})
			lines := decodeLines(t, out.Bytes())
			if len(lines) != tt.wantLines {
				t.Fatalf("got %d lines, want %d", len(lines), tt.wantLines)
			}
			if tt.wantLines == 0 {
				return
			}
			if got := strings.Contains(out.String(), "secret plans"); got != tt.wantRaw {
				t.Errorf("raw text present = %v, want %v", got, tt.wantRaw)
			}
			if lines[0]["client_id"] != "anonymous" {
				t.Errorf("client_id = %v, want anonymous", lines[0]["client_id"])
			}
		})
	}
}

func TestDestinationsReconfigureLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	file := runtimeconfig.AuditFile{Path: path, MaxSizeMiB: 1, MaxBackups: 1}
	l, out := newTestLogger(t, runtimeconfig.Audit{Level: "info", Destination: "stdout", File: file})
	ev := Event{Level: LevelInfo, Operation: OpConfigChange, Result: ResultSuccess}

	l.Record(context.Background(), ev)
	if err := l.Configure(runtimeconfig.Audit{Level: "info", Destination: "both", File: file}); err != nil {
		t.Fatal(err)
	}
	l.Record(context.Background(), ev)
	if err := l.Configure(runtimeconfig.Audit{Level: "info", Destination: "file", File: file}); err != nil {
		t.Fatal(err)
	}
	l.Record(context.Background(), ev)

	fileData, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(decodeLines(t, out.Bytes())); got != 2 {
		t.Errorf("stdout lines = %d, want 2", got)
	}
	if got := len(decodeLines(t, fileData)); got != 2 {
		t.Errorf("file lines = %d, want 2", got)
	}
}

type refusingForwarder struct{}

func (refusingForwarder) Forward([]byte) error { return os.ErrDeadlineExceeded }

func TestMetricsCountBelowLevelAndOverflow(t *testing.T) {
	l, out := newTestLogger(t, runtimeconfig.Audit{Level: "error", Destination: "stdout"})
	l.SetForwarder(refusingForwarder{})
	ctx := context.Background()
	l.Record(ctx, Event{Level: LevelWarn, Operation: OpAuthentication, Result: ResultFailure})
	l.Record(ctx, Event{Level: LevelWarn, Operation: OpRateLimitViolation, Result: ResultDenied})
	l.Record(ctx, Event{Level: LevelError, Operation: OpSecurityViolation, Result: ResultDenied})

	got := map[string]float64{
		"auth":     testutil.ToFloat64(l.metrics.authFailures),
		"rate":     testutil.ToFloat64(l.metrics.rateLimitViolation),
		"security": testutil.ToFloat64(l.metrics.securityViolation),
		"overflow": testutil.ToFloat64(l.metrics.spoolOverflow),
	}
	want := map[string]float64{"auth": 1, "rate": 1, "security": 1, "overflow": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if n := len(decodeLines(t, out.Bytes())); n != 1 {
		t.Errorf("written lines = %d, want 1 (the error-level event, kept locally)", n)
	}
}

// TestUnencodableMetadataKeepsTheEvent records metadata JSON cannot hold:
// the event is still written, with the encoding error in place of its
// metadata.
func TestUnencodableMetadataKeepsTheEvent(t *testing.T) {
	l, out := newTestLogger(t, runtimeconfig.Audit{Level: "info", Destination: "stdout"})
	l.Record(context.Background(), Event{Level: LevelWarn, Operation: OpDeleteEpisode,
		Result: ResultSuccess, Metadata: map[string]any{"episode_id": "e1", "score": math.NaN()}})
	want := []map[string]any{{"timestamp": "2026-03-01T12:00:00Z", "level": "warn",
		"operation": OpDeleteEpisode, "client_id": "anonymous", "result": ResultSuccess,
		"metadata": map[string]any{"metadata_error": "json: unsupported value: NaN"}}}
	if diff := cmp.Diff(want, decodeLines(t, out.Bytes())); diff != "" {
		t.Errorf("audit lines (-want +got):\n%s", diff)
	}
}
