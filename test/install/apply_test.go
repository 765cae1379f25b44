package install

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/memorymcp/memory-mcp-operator/internal/testtools"
)

// fieldManager names the tests' server-side applies.
const fieldManager = "memory-mcp-install-test"

// writeManifests writes objects as one YAML stream for kubectl -f.
func writeManifests(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var docs []string
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(data))
	}
	path := filepath.Join(t.TempDir(), "manifests.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(testtools.Kubectl(t), append([]string{"--kubeconfig", kubeconfig(t)}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// applyCRDs applies CRDs for real and waits until the API server serves
// them, since objects of their kinds cannot even be dry-run before.
func applyCRDs(t *testing.T, path string) {
	t.Helper()
	out := kubectl(t, "apply", "--server-side", "--field-manager", fieldManager, "-o", "name", "-f", path)
	names := strings.Fields(out)
	if len(names) == 0 {
		t.Fatalf("no CRDs in %s", path)
	}
	kubectl(t, append([]string{"wait", "--for=condition=Established", "--timeout=60s"}, names...)...)
}

// dryRun applies objects with a server-side dry run: the API server runs
// defaulting, schema and CEL validation and admission, and stores nothing.
// Objects that later ones need to exist (CRDs, Namespaces) are applied for
// real first.
func dryRun(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var crds, namespaces, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			crds = append(crds, o)
		case "Namespace":
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	if len(crds) > 0 {
		applyCRDs(t, writeManifests(t, crds))
	}
	if len(namespaces) > 0 {
		kubectl(t, "apply", "--server-side", "--field-manager", fieldManager, "-f", writeManifests(t, namespaces))
	}
	out := kubectl(t, "apply", "--server-side", "--dry-run=server", "--field-manager", fieldManager,
		"-f", writeManifests(t, rest))
	if got := strings.Count(out, "(server dry run)"); got != len(rest) {
		t.Errorf("dry run reported %d objects, want %d:\n%s", got, len(rest), out)
	}
}

// monitoringCRDs returns the Prometheus Operator CRDs in test/crds/monitoring
// when the tree has them, so the dry run checks the ServiceMonitor against
// the real schema, and otherwise stand-ins that only serve the kinds.
func monitoringCRDs() string {
	if fi, err := os.Stat(repoPath("test", "crds", "monitoring")); err == nil && fi.IsDir() {
		return repoPath("test", "crds", "monitoring")
	}
	return repoPath("test", "install", "testdata", "monitoring-crds.yaml")
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	kubectl(t, "apply", "--server-side", "--field-manager", fieldManager,
		"-f", writeManifests(t, []*unstructured.Unstructured{ns}))
}

func TestChartServerSideDryRun(t *testing.T) {
	testtools.Helm(t)
	applyCRDs(t, repoPath(chartDir, "crds"))
	// ServiceMonitor needs its kind served.
	applyCRDs(t, monitoringCRDs())

	for i, file := range valueFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ns := fmt.Sprintf("dry-run-chart-%d", i)
			ensureNamespace(t, ns)
			dryRun(t, renderChart(t, ns, "--values", file))
		})
	}
}

func TestInstallerServerSideDryRun(t *testing.T) {
	dryRun(t, buildInstaller(t))
}

// The samples are what users apply first; they must pass the CRD the chart
// installs.
func TestSamplesServerSideDryRun(t *testing.T) {
	applyCRDs(t, repoPath(chartDir, "crds"))
	ensureNamespace(t, "dry-run-samples")
	samples, err := filepath.Glob(repoPath("config", "samples", "*.yaml"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, s := range samples {
		kubectl(t, "apply", "--server-side", "--dry-run=server", "--field-manager", fieldManager,
			"--namespace", "dry-run-samples", "-f", s)
	}
}

func TestHelmInstallAndUninstall(t *testing.T) {
	helm := testtools.Helm(t)
	kc := kubeconfig(t)
	applyCRDs(t, monitoringCRDs())
	const ns, release = "helm-install", "mmcp"
	values := repoPath(chartDir, "ci", "monitoring-values.yaml")

	// No kubelet runs on this control plane, so nothing waits for pods to
	// become ready: the check is that Helm creates and removes every object.
	if _, err := run(helm, "install", release, chartDir, "--kubeconfig", kc, "--namespace", ns,
		"--create-namespace", "--values", values); err != nil {
		t.Fatal(err)
	}
	manifest, err := run(helm, "get", "manifest", release, "--kubeconfig", kc, "--namespace", ns)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, manifest)
	if len(objs) == 0 {
		t.Fatal("the release holds no objects")
	}
	path := writeManifests(t, objs)
	listed := strings.Fields(kubectl(t, "get", "-f", path, "-o", "name"))
	if len(listed) != len(objs) {
		t.Fatalf("found %d of the release's %d objects: %v", len(listed), len(objs), listed)
	}
	kubectl(t, "get", "crd", "memorymcps.memorymcp.io")

	if _, err := run(helm, "uninstall", release, "--kubeconfig", kc, "--namespace", ns); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "wait", "--for=delete", "--timeout=60s", "-f", path)
	if left := kubectl(t, "get", "-f", path, "--ignore-not-found", "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("helm uninstall left objects behind:\n%s", left)
	}
}
