package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestHTTPServeAndGracefulStop starts the binary on random loopback ports
// without any config source, sees the warning and the refusal it
// announces, sends SIGTERM and expects a clean exit.
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
	waitForLog(t, logs, noSourceWarning)
	addr := waitForLog(t, logs, "serving")["mcp_addr"].(string)

	// Without credentials every call is refused as unauthenticated.
	client := mcp.NewClient(&mcp.Implementation{Name: "shutdown-test", Version: "1"}, nil)
	_, err = client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp"}, nil)
	if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("connecting without credentials: %v, want Unauthorized", err)
	}

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
