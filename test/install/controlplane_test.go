package install

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
)

// The control plane starts on first use, so the tests that only render
// manifests do not pay for it, and stops after the last test.
var controlPlane struct {
	once       sync.Once
	env        *envtest.Environment
	kubeconfig string
	err        error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if controlPlane.env != nil {
		if err := controlPlane.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
		if err := os.RemoveAll(filepath.Dir(controlPlane.kubeconfig)); err != nil {
			fmt.Fprintln(os.Stderr, "removing the kubeconfig:", err)
		}
	}
	os.Exit(code)
}

// kubeconfig returns the kubeconfig of a cluster-admin on a control plane
// with no CRDs installed: the install tests apply them as a user would.
func kubeconfig(t *testing.T) string {
	t.Helper()
	controlPlane.once.Do(startControlPlane)
	if controlPlane.err != nil {
		t.Fatal(controlPlane.err)
	}
	return controlPlane.kubeconfig
}

func startControlPlane() {
	env, err := envtestutil.New(envtestutil.Options{})
	if err != nil {
		controlPlane.err = err
		return
	}
	env.CRDDirectoryPaths = nil
	if _, err := env.Start(); err != nil {
		controlPlane.err = fmt.Errorf("starting the control plane: %w", err)
		return
	}
	controlPlane.env = env
	admin := envtest.User{Name: "install-admin", Groups: []string{"system:masters"}}
	user, err := env.ControlPlane.AddUser(admin, nil)
	if err != nil {
		controlPlane.err = fmt.Errorf("adding the admin user: %w", err)
		return
	}
	data, err := user.KubeConfig()
	if err != nil {
		controlPlane.err = fmt.Errorf("rendering the kubeconfig: %w", err)
		return
	}
	dir, err := os.MkdirTemp("", "mmcp-install-")
	if err != nil {
		controlPlane.err = err
		return
	}
	controlPlane.kubeconfig = filepath.Join(dir, "kubeconfig")
	controlPlane.err = os.WriteFile(controlPlane.kubeconfig, data, 0o600)
}
