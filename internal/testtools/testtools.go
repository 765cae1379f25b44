// Package testtools finds the command-line tools that install and rule tests
// drive: helm and kustomize, which the Makefile builds into ./bin from the Go
// module proxy, and promtool and kubectl, which come from Debian packages.
//
// A tool that cannot be had skips the test on a developer machine, saying
// how to get it, and fails it under CI=true: in CI a skipped install test
// would pass without having checked anything.
package testtools

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
)

var makeMu sync.Mutex

// Helm returns the path of ./bin/helm, building it with `make helm` if needed.
func Helm(t testing.TB) string { return fromMake(t, "helm") }

// Kustomize returns the path of ./bin/kustomize, building it with
// `make kustomize` if needed.
func Kustomize(t testing.TB) string { return fromMake(t, "kustomize") }

// Kubebuilder returns the path of ./bin/kubebuilder, building it with
// `make kubebuilder` if needed.
func Kubebuilder(t testing.TB) string { return fromMake(t, "kubebuilder") }

// Promtool returns the path of promtool, installed by `make test-deps`.
func Promtool(t testing.TB) string { return onPath(t, "promtool", "make test-deps") }

// Kubectl returns the path of kubectl.
func Kubectl(t testing.TB) string { return onPath(t, "kubectl", "apt-get install kubectl") }

func fromMake(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(envtestutil.RepoRoot(), "bin", name)
	makeMu.Lock()
	defer makeMu.Unlock()
	if isExecutable(path) {
		return path
	}
	var out bytes.Buffer
	cmd := exec.Command("make", "--no-print-directory", name)
	cmd.Dir = envtestutil.RepoRoot()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !isExecutable(path) {
		unavailable(t, name, "`make "+name+"` failed: "+out.String())
	}
	return path
}

func onPath(t testing.TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, name, "not on PATH; install it with `"+hint+"`")
	}
	return path
}

func unavailable(t testing.TB, name, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %s", name, why)
	}
	t.Skipf("SKIPPED: %s is not available (%s); CI fails instead of skipping", name, why)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
