// Command quickstart runs a local control plane for trying the operator: a
// real etcd and kube-apiserver on loopback, the MemoryMCP CRD and the
// samples applied, and a kubeconfig written under .local/quickstart.
//
// It runs in the foreground until interrupted (Ctrl-C or SIGTERM, which
// `make quickstart-down` sends) and then stops everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
	"github.com/memorymcp/memory-mcp-operator/internal/localrun"
)

func main() {
	stateDir := flag.String("state-dir", ".local/quickstart", "folder for the kubeconfig, logs and pid file")
	flag.Parse()
	if err := run(*stateDir); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(stateDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", stateDir, err)
	}
	pidFile := filepath.Join(stateDir, "quickstart.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	defer func() {
		// A stale pid file would make quickstart-down signal an unrelated
		// process, so a failure to remove it is worth reporting.
		if err := os.Remove(pidFile); err != nil {
			fmt.Fprintln(os.Stderr, "quickstart: removing pid file:", err)
		}
	}()

	env, err := envtestutil.New(envtestutil.Options{})
	if err != nil {
		return err
	}
	fmt.Println("starting etcd and kube-apiserver on loopback ...")
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		fmt.Println("stopping the control plane ...")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "quickstart: stopping the control plane:", err)
		}
	}()

	kubeconfig, err := writeKubeconfig(env, stateDir)
	if err != nil {
		return err
	}
	if err := kubectl(ctx, kubeconfig, "apply", "-f", "config/samples/"); err != nil {
		return err
	}

	procs := &processes{dir: stateDir}
	defer procs.stopAll()
	if err := procs.start(ctx, "manager", "bin/manager", "--kubeconfig", kubeconfig,
		"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"); err != nil {
		return err
	}
	fmt.Println("waiting for the operator to reconcile the samples ...")
	clientSecret := "secret/" + sampleName + "-client-" + sampleClient
	if err := waitFor(ctx, kubeconfig, "deployment/"+sampleName, clientSecret); err != nil {
		return err
	}
	server, err := startServer(ctx, env, procs, stateDir)
	if err != nil {
		return err
	}
	token, err := localrun.ClientToken(ctx, env.Config, "default", sampleName, sampleClient)
	if err != nil {
		return err
	}
	printUsage(kubeconfig, server, token)

	select {
	case <-ctx.Done():
	case err := <-procs.exited:
		return err
	}
	return nil
}

// writeKubeconfig adds a cluster-admin user and writes its kubeconfig.
func writeKubeconfig(env *envtest.Environment, stateDir string) (string, error) {
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "quickstart-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("adding the admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("rendering the kubeconfig: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(stateDir, "kubeconfig"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return path, nil
}

func kubectl(ctx context.Context, kubeconfig string, args ...string) error {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("kubectl %v: exit code %d", args, exitErr.ExitCode())
		}
		return fmt.Errorf("kubectl %v: %w", args, err)
	}
	return nil
}

// The sample the quickstart serves, and the client whose token it prints.
const (
	sampleName   = "agent-memory"
	sampleClient = "planner"
)

// waitFor polls until every object exists; kubectl wait cannot wait for an
// object that does not exist yet.
func waitFor(ctx context.Context, kubeconfig string, objects ...string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		args := append([]string{"--kubeconfig", kubeconfig, "get", "-o", "name"}, objects...)
		if exec.CommandContext(ctx, "kubectl", args...).Run() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %v: %w (see %s)", objects, ctx.Err(), "manager.log")
		case <-ticker.C:
		}
	}
}

// startServer runs the sample's server as the operator rendered it and
// waits until it is ready.
func startServer(ctx context.Context, env *envtest.Environment, procs *processes,
	stateDir string) (*localrun.Server, error) {
	dir, err := filepath.Abs(filepath.Join(stateDir, "server"))
	if err != nil {
		return nil, err
	}
	server, err := localrun.Prepare(ctx, env.Config, localrun.Options{
		Namespace: "default", Name: sampleName, StateDir: dir,
	})
	if err != nil {
		return nil, err
	}
	if err := procs.start(ctx, "server", "bin/mcp-server", server.Args...); err != nil {
		return nil, err
	}
	fmt.Println("waiting for the memory server to be ready ...")
	if err := localrun.WaitReady(ctx, server, time.Minute); err != nil {
		return nil, fmt.Errorf("%w (see %s)", err, filepath.Join(stateDir, "server.log"))
	}
	return server, nil
}

func printUsage(kubeconfig string, server *localrun.Server, token string) {
	fmt.Printf(`
The local control plane is up, the operator reconciles MemoryMCP objects and
the %[4]s server runs as the operator rendered it, watching its runtime config
through the API server (logs: manager.log and server.log beside the kubeconfig).

  export KUBECONFIG=%[1]s
  kubectl get memorymcp

The MCP endpoint (streamable HTTP) and a token of client %[5]q:

  export MEMORY_MCP_ENDPOINT=%[2]s
  export MEMORY_MCP_TOKEN=%[3]s
  bin/memory-cli tool call health_check

Turn incident mode on and watch the server apply the emergency profile live,
without a restart:

  kubectl patch memorymcp %[4]s --type merge -p '{"spec":{"incidentMode":true}}'
  curl -s %[6]s/metrics | grep -E '^memory_mcp_(incident_mode|config_generation)'
  bin/memory-cli tool call execute_agent_code   # now refused: disabled in incident mode

Stop with Ctrl-C or 'make quickstart-down'.
`, kubeconfig, server.Endpoint, token, sampleName, sampleClient, server.OpsURL)
}
