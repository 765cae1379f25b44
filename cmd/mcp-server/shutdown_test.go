package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestHTTPServeAndGracefulStop starts the binary on random loopback ports,
// makes a call, sends SIGTERM and expects a clean exit.
func TestHTTPServeAndGracefulStop(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "--listen-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--sqlite-path", filepath.Join(t.TempDir(), "memory.db"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting: %v", err)
	}
	logs := json.NewDecoder(bufio.NewReader(stderr))
	addr := waitForLog(t, logs, "serving")["mcp_addr"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "shutdown-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp"}, nil)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	if res := callTool(t, cs, "health_check", map[string]any{}, nil); res.IsError {
		t.Fatalf("health_check: %+v", res.Content)
	}
	_ = cs.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, "shutting down")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

func waitForLog(t *testing.T, dec *json.Decoder, msg string) map[string]any {
	t.Helper()
	for {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("waiting for log %q: %v", msg, err)
		}
		if line["msg"] == msg {
			return line
		}
	}
}
