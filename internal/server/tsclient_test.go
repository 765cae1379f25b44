package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/mcptools"
	"github.com/memorymcp/memory-mcp-operator/internal/server"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// requireNode returns the node binary. Outside CI a machine without Node
// skips; in CI (CI=true) its absence fails the test, so the check cannot
// silently stop running.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		return node
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("node is required in CI for the TypeScript client test: %v", err)
	}
	t.Skipf("SKIPPING TypeScript client test: node not found (%v)", err)
	return ""
}

// TestTypeScriptClientLifecycle runs the official TypeScript SDK client
// against the server over streamable HTTP.
func TestTypeScriptClientLifecycle(t *testing.T) {
	node := requireNode(t)
	root := repoRoot(t)
	clientDir := filepath.Join(root, "test", "mcpclient")
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules")); err != nil {
		install := exec.Command(filepath.Join(root, "hack", "npm-install.sh"))
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("hack/npm-install.sh: %v\n%s", err, out)
		}
	}
	_, url := startHTTP(t, server.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(clientDir, "lifecycle.mjs"), url)
	cmd.Dir = clientDir
	cmd.Stderr = &testWriter{t}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lifecycle.mjs: %v\nstdout: %s", err, out)
	}
	var summary struct {
		Tools   []string `json:"tools"`
		Episode string   `json:"episode"`
		Top     string   `json:"top"`
	}
	if err := json.Unmarshal(out, &summary); err != nil {
		t.Fatalf("decoding summary %q: %v", out, err)
	}
	if diff := cmp.Diff(catalogNames(), summary.Tools); diff != "" {
		t.Errorf("tools/list seen by the TypeScript client (-want +got):\n%s", diff)
	}
}

func catalogNames() []string {
	var names []string
	for _, ti := range mcptools.Catalog() {
		names = append(names, ti.Name)
	}
	return sortStrings(names)
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("node: %s", p)
	return len(p), nil
}
