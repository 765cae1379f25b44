package audit

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// BenchmarkRecordRotatingFile writes audit events to a file rotated every
// 10 MiB. Run with -cpu 1 for the one-core figure; events/s is reported.
func BenchmarkRecordRotatingFile(b *testing.B) {
	l, err := New(Options{Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	err = l.Configure(runtimeconfig.Audit{Level: "info", Destination: "file",
		File: runtimeconfig.AuditFile{Path: filepath.Join(b.TempDir(), "audit.log"), MaxSizeMiB: 10, MaxBackups: 2}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := identity.WithClient(context.Background(), &identity.Client{ID: "agent-7"})
	for b.Loop() {
		l.Record(ctx, Event{Level: LevelInfo, Operation: OpToolCall, Result: ResultSuccess,
			Metadata: map[string]any{"tool": "create_episode", "duration_ms": 3, "api_key": "k"}})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
