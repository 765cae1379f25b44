// Package e2e drives the whole product the way its users do: the CRD on a
// real API server, the manager binary reconciling, `kubectl apply` of the
// sample, the memory server binary started from what the controller
// rendered and reading its config through the API with its own
// ServiceAccount, a real MCP client, and `kubectl patch` of incidentMode.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
)

// env is the shared control plane with the manager running against it.
var env struct {
	cfg        *rest.Config
	kubeconfig string
	bin        string
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "memory-mcp-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // a temporary folder; leftovers are harmless

	env.bin = filepath.Join(tmp, "bin")
	if err := buildBinaries(env.bin); err != nil {
		return 0, err
	}
	// The control plane's own log lines are not the product's.
	ctrllog.SetLogger(logr.Discard())
	testEnv, err := envtestutil.New(envtestutil.Options{})
	if err != nil {
		return 0, err
	}
	if env.cfg, err = testEnv.Start(); err != nil {
		return 0, fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the control plane:", err)
		}
	}()
	if env.kubeconfig, err = adminKubeconfig(testEnv, tmp); err != nil {
		return 0, err
	}
	stop, err := startProcess(filepath.Join(tmp, "manager.log"), filepath.Join(env.bin, "manager"),
		"--kubeconfig", env.kubeconfig, "--leader-elect=false",
		"--metrics-bind-address=0", "--health-probe-bind-address=0")
	if err != nil {
		return 0, err
	}
	defer stop()
	return m.Run(), nil
}

func buildBinaries(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/manager", "./cmd/mcp-server")
	cmd.Dir = envtestutil.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building binaries: %w\n%s", err, out)
	}
	return nil
}

func adminKubeconfig(testEnv *envtest.Environment, dir string) (string, error) {
	user, err := testEnv.ControlPlane.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// startProcess runs a binary with its output in logPath; the returned func
// stops it and prints its log when the tests failed.
func startProcess(logPath, bin string, args ...string) (func(), error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logFile.Close()
	}, nil
}

func execKubectl(args ...string) *exec.Cmd {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", env.kubeconfig}, args...)...)
	cmd.Dir = envtestutil.RepoRoot()
	return cmd
}

// kubectl runs kubectl against the control plane as a user would.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := execKubectl(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached within %s: %v", what, timeout, err)
		case <-tick.C:
		}
	}
}
