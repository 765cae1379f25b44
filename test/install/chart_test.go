package install

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/memorymcp/memory-mcp-operator/internal/testtools"
)

// valueFiles are the chart's test matrix: every file under ci/.
func valueFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(repoPath(chartDir, "ci", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no value files under %s/ci: %v", chartDir, err)
	}
	return files
}

func renderChart(t *testing.T, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	helm := testtools.Helm(t)
	base := []string{"template", "mmcp", chartDir, "--namespace", namespace}
	out, err := run(helm, append(base, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, out)
}

func TestChartCopiesEqualSources(t *testing.T) {
	cases := []struct{ source, chartCopy, glob string }{
		{"config/crd/bases", chartDir + "/crds", "*.yaml"},
		{"config/grafana", chartDir + "/dashboards", "*.json"},
	}
	for _, c := range cases {
		t.Run(c.source, func(t *testing.T) {
			want := readFolder(t, repoPath(c.source), c.glob)
			got := readFolder(t, repoPath(c.chartCopy), c.glob)
			if len(want) == 0 {
				t.Fatalf("no %s in %s", c.glob, c.source)
			}
			// Byte equality: the chart must ship exactly what was generated.
			for name, data := range want {
				if !bytes.Equal(got[name], data) {
					t.Errorf("%s/%s differs from %s/%s; run `make manifests`", c.chartCopy, name, c.source, name)
				}
			}
			for name := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("%s/%s has no source in %s; run `make manifests`", c.chartCopy, name, c.source)
				}
			}
		})
	}
}

func readFolder(t *testing.T, dir, glob string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = data
	}
	return files
}

func TestHelmLint(t *testing.T) {
	helm := testtools.Helm(t)
	for _, file := range valueFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if out, err := run(helm, "lint", "--strict", chartDir, "--values", file); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestHelmTemplateMatrix(t *testing.T) {
	for _, file := range valueFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			objs := renderChart(t, "mmcp-system", "--values", file)
			checkHardenedManager(t, objs)
		})
	}
}

// checkHardenedManager holds for every values file: the settings that make
// the manager safe to run are not values.
func checkHardenedManager(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	deploy := find(objs, "Deployment", "")
	if deploy == nil {
		t.Fatal("no Deployment rendered")
	}
	pod, _, _ := unstructured.NestedMap(deploy.Object, "spec", "template", "spec")
	if v, _, _ := unstructured.NestedBool(pod, "securityContext", "runAsNonRoot"); !v {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	containers, _, _ := unstructured.NestedSlice(pod, "containers")
	if len(containers) != 1 {
		t.Fatalf("want one container, got %d", len(containers))
	}
	c := containers[0].(map[string]any)
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"securityContext", "readOnlyRootFilesystem"}, true},
		{[]string{"securityContext", "allowPrivilegeEscalation"}, false},
		{[]string{"securityContext", "runAsNonRoot"}, true},
		{[]string{"securityContext", "seccompProfile", "type"}, "RuntimeDefault"},
		{[]string{"securityContext", "capabilities", "drop"}, []any{"ALL"}},
		{[]string{"livenessProbe", "httpGet", "path"}, "/healthz"},
		{[]string{"readinessProbe", "httpGet", "path"}, "/readyz"},
	}
	for _, ch := range checks {
		got, _, _ := unstructured.NestedFieldNoCopy(c, ch.path...)
		if diff := cmp.Diff(ch.want, got); diff != "" {
			t.Errorf("container %s (-want +got):\n%s", strings.Join(ch.path, "."), diff)
		}
	}
	if _, ok, _ := unstructured.NestedMap(c, "resources", "limits"); !ok {
		t.Error("container has no resource limits")
	}
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	for _, want := range []string{"--leader-elect", "--metrics-bind-address=:8443",
		"--health-probe-bind-address=:8081"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
}

func containerOf(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	deploy := find(objs, "Deployment", "")
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	return containers[0].(map[string]any)
}

func TestHelmTemplateValues(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		objs := renderChart(t, "mmcp-system")
		c := containerOf(t, objs)
		if c["image"] != "ghcr.io/memorymcp/memory-mcp-operator:v0.1.0" {
			t.Errorf("manager image = %v, want the appVersion tag", c["image"])
		}
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		if !slices.Contains(args, "--server-image=ghcr.io/memorymcp/mcp-server:v0.1.0") {
			t.Errorf("args %v lack the appVersion server image", args)
		}
		if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--watch-namespaces") }) {
			t.Errorf("args %v restrict namespaces by default", args)
		}
		if find(objs, "ServiceMonitor", "") != nil {
			t.Error("ServiceMonitor rendered although disabled by default")
		}
		if find(objs, "ConfigMap", "-dashboard") != nil {
			t.Error("dashboard ConfigMap rendered although disabled by default")
		}
	})
	t.Run("watchNamespaces", func(t *testing.T) {
		file := repoPath(chartDir, "ci", "watch-namespaces-values.yaml")
		objs := renderChart(t, "mmcp-system", "--values", file)
		args, _, _ := unstructured.NestedStringSlice(containerOf(t, objs), "args")
		if !slices.Contains(args, "--watch-namespaces=agents,agents-staging") {
			t.Errorf("args %v lack --watch-namespaces=agents,agents-staging", args)
		}
	})
	t.Run("monitoring", func(t *testing.T) {
		objs := renderChart(t, "mmcp-system", "--values", repoPath(chartDir, "ci", "monitoring-values.yaml"))
		sm := find(objs, "ServiceMonitor", "")
		if sm == nil || sm.GetLabels()["release"] != "kube-prometheus-stack" {
			t.Fatalf("ServiceMonitor missing or without its extra label: %v", sm)
		}
		// The dry run serves ServiceMonitor from a stand-in CRD that accepts
		// any spec; the Prometheus Operator's types catch a misspelt field.
		var typed monitoringv1.ServiceMonitor
		if err := yaml.UnmarshalStrict(mustJSON(t, sm.Object), &typed); err != nil {
			t.Errorf("the ServiceMonitor does not match the Prometheus Operator's types: %v", err)
		}
		if len(typed.Spec.Endpoints) != 1 || typed.Spec.Endpoints[0].Port != "https-metrics" {
			t.Errorf("ServiceMonitor endpoints = %+v, want the https-metrics port", typed.Spec.Endpoints)
		}
		checkDashboardConfigMap(t, find(objs, "ConfigMap", "-dashboard"))
	})
	t.Run("customImages", func(t *testing.T) {
		objs := renderChart(t, "mmcp-system", "--values", repoPath(chartDir, "ci", "custom-values.yaml"))
		c := containerOf(t, objs)
		if c["image"] != "registry.example.com/platform/memory-mcp-operator:v0.1.0-rc.1" {
			t.Errorf("manager image = %v", c["image"])
		}
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		if !slices.Contains(args, "--server-image=registry.example.com/platform/mcp-server:v0.1.0-rc.1") {
			t.Errorf("args %v lack the custom server image", args)
		}
		if sa := find(objs, "ServiceAccount", ""); sa == nil || sa.GetName() != "mmcp-manager" {
			t.Errorf("ServiceAccount not named from values: %v", sa)
		}
	})
}

func checkDashboardConfigMap(t *testing.T, cm *unstructured.Unstructured) {
	t.Helper()
	if cm == nil {
		t.Fatal("dashboard ConfigMap not rendered")
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard: \"1\"", cm.GetLabels())
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", "memory-mcp-security.json")
	source, err := os.ReadFile(repoPath("config", "grafana", "memory-mcp-security.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatalf("dashboard in the ConfigMap is not JSON: %v", err)
	}
	if err := json.Unmarshal(source, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dashboard in the ConfigMap differs from config/grafana (-want +got):\n%s", diff)
	}
}

// The schema refuses what the chart would otherwise ignore, so a typo in a
// values file fails the install.
func TestValuesSchemaRefuses(t *testing.T) {
	helm := testtools.Helm(t)
	cases := map[string][]string{
		"unknown top-level key": {"--set", "replicas=2"},
		"unknown nested key":    {"--set", "serviceMonitor.intervall=10s"},
		"bad pull policy":       {"--set", "image.pullPolicy=Sometimes"},
		"bad namespace name":    {"--set", "watchNamespaces[0]=Not_A_Namespace"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := run(helm, append([]string{"template", "mmcp", chartDir}, args...)...)
			if err == nil {
				t.Fatalf("helm template accepted %v:\n%s", args, out)
			}
			if !strings.Contains(err.Error(), "schema") {
				t.Errorf("refused for another reason than the schema: %v", err)
			}
		})
	}
}

// Every value is documented in the chart's README.
func TestChartReadmeListsEveryValue(t *testing.T) {
	data, err := os.ReadFile(repoPath(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(repoPath(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range valueKeys("", values) {
		if !strings.Contains(string(readme), "`"+key+"`") {
			t.Errorf("README.md does not describe %s", key)
		}
	}
}

// valueKeys lists dotted keys down to leaves, stopping at maps meant to be
// filled by users (empty by default) and at resources, documented whole.
func valueKeys(prefix string, m map[string]any) []string {
	var keys []string
	for k, v := range m {
		key := prefix + k
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 && key != "resources" {
			keys = append(keys, valueKeys(key+".", sub)...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}
