// Package envtestutil starts a real kube-apiserver and etcd for tests, with
// the MemoryMCP CRD installed.
//
// The binaries come from hack/envtest-assets.sh (make envtest-assets), which
// builds them from the Go module proxy and keeps them where setup-envtest
// keeps its assets. Tests find them without any flag: KUBEBUILDER_ASSETS wins
// when set, then the setup-envtest folder of the pinned Kubernetes release.
package envtestutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// KubernetesVersion is the release hack/envtest-assets.sh builds.
const KubernetesVersion = "1.37.2"

// ErrNoAssets means the control plane binaries are not built yet.
var ErrNoAssets = errors.New("kube-apiserver and etcd not found: run `make envtest-assets`")

// AssetsDir returns the folder holding kube-apiserver and etcd.
func AssetsDir() (string, error) {
	var candidates []string
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		candidates = append(candidates, dir)
	}
	dataHome := os.Getenv("XDG_DATA_HOME")
	if dataHome == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locating envtest assets: %w", err)
		}
		dataHome = filepath.Join(home, ".local", "share")
	}
	candidates = append(candidates, filepath.Join(dataHome, "kubebuilder-envtest", "k8s",
		KubernetesVersion+"-linux-"+runtime.GOARCH))
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "kube-apiserver")) && isExecutable(filepath.Join(dir, "etcd")) {
			return dir, nil
		}
	}
	return "", ErrNoAssets
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// RepoRoot returns the repository's root folder, found from this source
// file so tests in any package can name repository paths.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Scheme returns a scheme with the built-in types and the MemoryMCP API.
func Scheme() (*k8sruntime.Scheme, error) {
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding client-go types: %w", err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding CRD types: %w", err)
	}
	if err := mcpv1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding MemoryMCP types: %w", err)
	}
	return s, nil
}

// Options adjust the environment.
type Options struct {
	// ExtraCRDDirs are installed beside the MemoryMCP CRD, such as the
	// Prometheus Operator CRDs.
	ExtraCRDDirs []string
}

// New returns an environment, not yet started, with the MemoryMCP CRD.
func New(opts Options) (*envtest.Environment, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	s, err := Scheme()
	if err != nil {
		return nil, err
	}
	paths := append([]string{filepath.Join(RepoRoot(), "config", "crd", "bases")}, opts.ExtraCRDDirs...)
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		CRDDirectoryPaths:     paths,
		CRDInstallOptions:     envtest.CRDInstallOptions{Scheme: s},
		ErrorIfCRDPathMissing: true,
		Scheme:                s,
	}
	// envtest's default Service range is a /24: 254 ClusterIPs, fewer
	// Services than the scale driver or a busy quickstart creates.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", serviceIPRange)
	return env, nil
}

// serviceIPRange is the ClusterIP range of the local control plane.
const serviceIPRange = "10.96.0.0/16"

// GroupVersionResource of MemoryMCP, for dynamic clients.
var GroupVersionResource = schema.GroupVersionResource{
	Group: mcpv1alpha1.GroupVersion.Group, Version: mcpv1alpha1.GroupVersion.Version, Resource: "memorymcps",
}
