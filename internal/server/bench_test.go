package server_test

import (
	"fmt"
	"testing"

	"github.com/memorymcp/memory-mcp-operator/internal/server"
)

// The HTTP benchmarks measure a full MCP round trip through the Go SDK
// client and the stateless streamable HTTP handler on loopback.

func BenchmarkHTTPCreateEpisode(b *testing.B) {
	_, url := startHTTP(b, server.Options{})
	cs := connect(b, url)
	for b.Loop() {
		mustCall(b, cs, "create_episode", map[string]any{"task_description": "benchmark task"}, nil)
	}
}

func BenchmarkHTTPAddStep(b *testing.B) {
	_, url := startHTTP(b, server.Options{})
	cs := connect(b, url)
	var ep struct{ ID string }
	mustCall(b, cs, "create_episode", map[string]any{"task_description": "benchmark task"}, &ep)
	args := map[string]any{"episode_id": ep.ID, "tool": "shell", "result": map[string]any{"status": "success"}}
	for b.Loop() {
		mustCall(b, cs, "add_episode_step", args, nil)
	}
}

func BenchmarkHTTPCompleteEpisode(b *testing.B) {
	_, url := startHTTP(b, server.Options{})
	cs := connect(b, url)
	for b.Loop() {
		b.StopTimer()
		var ep struct{ ID string }
		mustCall(b, cs, "create_episode", map[string]any{"task_description": "benchmark task"}, &ep)
		mustCall(b, cs, "add_episode_step", map[string]any{"episode_id": ep.ID, "tool": "shell",
			"result": map[string]any{"status": "success"}}, nil)
		b.StartTimer()
		mustCall(b, cs, "complete_episode", map[string]any{"episode_id": ep.ID,
			"outcome": map[string]any{"status": "success"}}, nil)
	}
}

func BenchmarkHTTPQuery1k(b *testing.B) {
	_, url := startHTTP(b, server.Options{})
	cs := connect(b, url)
	for i := range 1000 {
		mustCall(b, cs, "create_episode", map[string]any{
			"task_description": fmt.Sprintf("task %d about topic%d and area%d", i, i%50, i%7)}, nil)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		mustCall(b, cs, "query_memory", map[string]any{"query": fmt.Sprintf("topic%d area%d", i%50, i%7)}, nil)
		i++
	}
}
