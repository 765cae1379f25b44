package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var build struct {
	once sync.Once
	dir  string
	err  error
}

// buildBinary compiles mcp-server once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		if build.dir, build.err = os.MkdirTemp("", "mcp-server-test"); build.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(build.dir, "mcp-server"), ".").
			CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return filepath.Join(build.dir, "mcp-server")
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{build.dir, guestBuild.dir} {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args, out any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if out != nil && !res.IsError {
		raw, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: decoding: %v", name, err)
		}
	}
	return res
}

// TestStdioLifecycle drives the built binary over stdio with the Go SDK
// client: any byte on stdout that is not protocol would break the session.
func TestStdioLifecycle(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--transport", "stdio", "--log-level", "debug",
		"--sqlite-path", filepath.Join(t.TempDir(), "memory.db"))
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer func() { _ = cs.Close() }()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 18 {
		t.Fatalf("ListTools: %d tools, %v", len(tools.Tools), err)
	}
	var ep struct{ ID string }
	callTool(t, cs, "create_episode", map[string]any{"task_description": "distractor about docs"}, nil)
	callTool(t, cs, "create_episode", map[string]any{
		"task_description": "tune the quasar cache eviction", "domain": "backend"}, &ep)
	for _, status := range []string{"error", "success"} {
		res := callTool(t, cs, "add_episode_step", map[string]any{"episode_id": ep.ID,
			"tool": "bench", "action": "measure eviction", "result": map[string]any{"status": status}}, nil)
		if res.IsError {
			t.Fatalf("add_episode_step: %+v", res.Content)
		}
	}
	var done struct{ Reward struct{ Total float64 } }
	callTool(t, cs, "complete_episode", map[string]any{"episode_id": ep.ID,
		"outcome": map[string]any{"status": "success"}}, &done)
	if done.Reward.Total <= 0 {
		t.Errorf("reward = %v, want > 0", done.Reward.Total)
	}
	var q struct{ Results []struct{ ID string } }
	callTool(t, cs, "query_memory", map[string]any{"query": "quasar cache"}, &q)
	if len(q.Results) == 0 || q.Results[0].ID != ep.ID {
		t.Fatalf("query_memory: %+v, want %s first", q.Results, ep.ID)
	}
	if res := callTool(t, cs, "delete_episode", map[string]any{"episode_id": ep.ID, "confirm": true}, nil); res.IsError {
		t.Fatalf("delete_episode: %+v", res.Content)
	}
	if res := callTool(t, cs, "get_episode", map[string]any{"episode_id": ep.ID}, nil); !res.IsError {
		t.Error("get_episode after delete succeeded")
	}
}
