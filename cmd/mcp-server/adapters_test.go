package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/mcptools"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

func TestAuditEvent(t *testing.T) {
	md := map[string]any{"episode_id": "e1"}
	tests := []struct {
		in   mcptools.Event
		want audit.Event
	}{
		{mcptools.Event{Operation: "delete_episode", Result: mcptools.ResultSuccess, Metadata: md},
			audit.Event{Level: audit.LevelInfo, Operation: "delete_episode", Result: audit.ResultSuccess, Metadata: md}},
		{mcptools.Event{Operation: "delete_episode", Result: mcptools.ResultRefused, Metadata: md},
			audit.Event{Level: audit.LevelWarn, Operation: "delete_episode", Result: audit.ResultDenied, Metadata: md}},
		{mcptools.Event{Operation: "execute_agent_code", Result: mcptools.ResultFailure},
			audit.Event{Level: audit.LevelWarn, Operation: "execute_agent_code", Result: audit.ResultFailure}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, auditEvent(tt.in)); diff != "" {
			t.Errorf("auditEvent(%+v) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestLimitHits(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// hit is a limit hit by client, at minutes after start.
	type hit struct {
		client string
		at     int
	}
	tests := []struct {
		name string
		hits []hit
		want []bool
	}{
		{name: "three within the window", hits: []hit{{"a", 0}, {"a", 4}, {"a", 9}, {"a", 10}},
			want: []bool{false, false, true, false}},
		{name: "spread beyond the window", hits: []hit{{"a", 0}, {"a", 6}, {"a", 12}, {"a", 15}},
			want: []bool{false, false, false, true}},
		{name: "counted per client", hits: []hit{{"a", 0}, {"b", 1}, {"a", 2}, {"b", 3}},
			want: []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			h := &limitHits{window: limitHitWindow, threshold: limitHitThreshold,
				now: func() time.Time { return now }, byClient: map[string][]time.Time{}}
			var got []bool
			for _, hit := range tt.hits {
				now = start.Add(time.Duration(hit.at) * time.Minute)
				got = append(got, h.add(hit.client))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLimitHitsForgetsQuietClients sends one hit each from many clients,
// none reaching the threshold: once their window passed, they are gone.
func TestLimitHitsForgetsQuietClients(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &limitHits{window: limitHitWindow, threshold: limitHitThreshold,
		now: func() time.Time { return now }, byClient: map[string][]time.Time{}}
	for i := range 1000 {
		h.add(fmt.Sprintf("client-%d", i))
	}
	now = now.Add(limitHitWindow)
	h.add("late")
	if diff := cmp.Diff([]string{"late"}, slices.Collect(maps.Keys(h.byClient))); diff != "" {
		t.Errorf("clients kept (-want +got):\n%s", diff)
	}
}

func TestRebaseAudit(t *testing.T) {
	cfg := runtimeconfig.Default()
	got := rebaseAudit(cfg, "/tmp/audit")
	want := runtimeconfig.AuditFile{Path: filepath.Join("/tmp/audit", "audit.log"),
		MaxSizeMiB: cfg.Audit.File.MaxSizeMiB, MaxBackups: cfg.Audit.File.MaxBackups}
	if diff := cmp.Diff(want, got.Audit.File); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	if got.Audit.Spool.Dir != filepath.Join("/tmp/audit", "spool") {
		t.Errorf("spool dir = %s", got.Audit.Spool.Dir)
	}
	if cfg.Audit.File.Path == got.Audit.File.Path {
		t.Error("rebaseAudit changed the shared config")
	}
}

func TestPublicURL(t *testing.T) {
	tests := []struct {
		cfg                config
		resource, metadata string
	}{
		{config{listenAddr: ":8080"}, "http://localhost:8080/mcp",
			"http://localhost:8080/.well-known/oauth-protected-resource"},
		{config{listenAddr: "127.0.0.1:9"}, "http://127.0.0.1:9/mcp",
			"http://127.0.0.1:9/.well-known/oauth-protected-resource"},
		{config{listenAddr: ":8080", publicURL: "https://mem.example/mcp"}, "https://mem.example/mcp",
			"https://mem.example/.well-known/oauth-protected-resource"},
	}
	for _, tt := range tests {
		res := publicURL(tt.cfg)
		if diff := cmp.Diff([]string{tt.resource, tt.metadata}, []string{res, metadataURL(res)}); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tt.cfg, diff)
		}
	}
}
