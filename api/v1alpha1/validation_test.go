package v1alpha1_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
)

var resource dynamic.NamespaceableResourceInterface

func TestMain(m *testing.M) {
	os.Exit(runWithControlPlane(m))
}

func runWithControlPlane(m *testing.M) int {
	env, err := envtestutil.New(envtestutil.Options{})
	if err != nil {
		panic(err)
	}
	cfg, err := env.Start()
	if err != nil {
		panic(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			panic(err)
		}
	}()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		panic(err)
	}
	resource = dyn.Resource(envtestutil.GroupVersionResource)
	if err := createNamespace(cfg, "samples"); err != nil {
		panic(err)
	}
	return m.Run()
}

func decode(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatalf("decoding test object: %v", err)
	}
	return obj
}

func create(t *testing.T, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	t.Helper()
	ns := obj.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	return resource.Namespace(ns).Create(context.Background(), obj, metav1.CreateOptions{})
}

func TestSamplesAccepted(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(envtestutil.RepoRoot(), "config", "samples", "memorymcp_*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			obj := decode(t, string(data))
			obj.SetNamespace("samples")
			if _, err := create(t, obj); err != nil {
				t.Fatalf("sample refused: %v", err)
			}
		})
	}
}

func TestDefaultsFilled(t *testing.T) {
	got, err := create(t, decode(t, `
apiVersion: memorymcp.io/v1alpha1
kind: MemoryMCP
metadata: {name: defaults}
`))
	if err != nil {
		t.Fatalf("minimal object refused: %v", err)
	}
	want := map[string]any{
		"spec.replicas":                                    int64(1),
		"spec.storage.type":                                "SQLite",
		"spec.storage.sqlite.size":                         "1Gi",
		"spec.rateLimits.enabled":                          true,
		"spec.rateLimits.read.requestsPerSecond":           int64(50),
		"spec.rateLimits.write.burst":                      int64(20),
		"spec.auth.rotation.interval":                      "720h",
		"spec.auth.rotation.gracePeriod":                   "1h",
		"spec.audit.level":                                 "info",
		"spec.audit.destination":                           "stdout",
		"spec.audit.spoolSize":                             "256Mi",
		"spec.sandbox.memory":                              "64Mi",
		"spec.sandbox.timeout":                             "5s",
		"spec.sandbox.maxConcurrency":                      int64(4),
		"spec.monitoring.serviceMonitor.interval":          "30s",
		"spec.incidentMode":                                false,
		"spec.incident.rateLimits.read.requestsPerSecond":  int64(10),
		"spec.incident.rateLimits.write.requestsPerSecond": int64(1),
		"spec.incident.auditLevel":                         "debug",
		"spec.incident.auditDestination":                   "both",
		"spec.incident.disabledTools":                      []any{"execute_agent_code", "configure_embeddings"},
	}
	for path, w := range want {
		v, found, err := unstructured.NestedFieldNoCopy(got.Object, strings.Split(path, ".")...)
		if err != nil || !found {
			t.Errorf("%s not defaulted (err %v)", path, err)
			continue
		}
		if diff := cmp.Diff(w, v); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
}

func TestInvalidObjectsRefused(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want string
	}{
		{"sqlite with replicas", `{replicas: 3}`,
			"storage.type SQLite supports at most one replica"},
		{"burst below rate", `{rateLimits: {read: {requestsPerSecond: 50, burst: 10}}}`,
			"burst must not be below requestsPerSecond"},
		{"invalid cidr", `{blockedClients: {cidrs: ["10.0.0.300/8"]}}`,
			"must be a CIDR such as 10.0.0.0/8"},
		{"duplicate client names", `{auth: {clients: [{name: a}, {name: a}]}}`,
			"Duplicate value"},
		{"incident reads above normal", `{rateLimits: {read: {requestsPerSecond: 5, burst: 5}}}`,
			"incident.rateLimits.read must not exceed rateLimits.read in requestsPerSecond or burst"},
		{"incident writes above normal",
			`{incident: {rateLimits: {write: {requestsPerSecond: 30, burst: 30}}}}`,
			"incident.rateLimits.write must not exceed rateLimits.write in requestsPerSecond or burst"},
		{"incident read burst above normal",
			`{incident: {rateLimits: {read: {requestsPerSecond: 10, burst: 500}}}}`,
			"incident.rateLimits.read must not exceed rateLimits.read in requestsPerSecond or burst"},
		{"incident write burst above normal",
			`{incident: {rateLimits: {write: {requestsPerSecond: 1, burst: 50}}}}`,
			"incident.rateLimits.write must not exceed rateLimits.write in requestsPerSecond or burst"},
		{"negative spool size", `{audit: {spoolSize: "-1Gi"}}`,
			"audit.spoolSize must be at least 1Mi"},
		{"negative sandbox output", `{sandbox: {maxOutput: "-1"}}`,
			"sandbox.maxOutput must be at least 1Ki"},
		{"postgres without settings", `{storage: {type: Postgres}}`,
			"storage.postgres is required when storage.type is Postgres"},
		{"sqlite with postgres settings", `{storage: {postgres: {uriSecret: {name: db}}}}`,
			"storage.postgres is only allowed when storage.type is Postgres"},
		{"grace not shorter than interval", `{auth: {rotation: {interval: 2h, gracePeriod: 3h}}}`,
			"auth.rotation.gracePeriod must be shorter than auth.rotation.interval"},
		{"rotation too frequent", `{auth: {rotation: {interval: 10m, gracePeriod: 1m}}}`,
			"auth.rotation.interval must be at least 1h"},
		{"oidc issuer not https", `{auth: {oidc: {issuer: "http://idp.example", audience: mcp}}}`,
			"auth.oidc.issuer must be an https URL"},
		{"syslog sink without settings", `{audit: {sinks: [{name: s, type: syslog}]}}`,
			"a syslog sink needs the syslog field and no http field"},
		{"http sink with bad url", `{audit: {sinks: [{name: h, type: http, http: {url: "ftp://x/y"}}]}}`,
			"audit sink url must be an http or https URL"},
		{"sandbox timeout too long", `{sandbox: {timeout: 10m}}`,
			"sandbox.timeout must be above 0s and at most 5m"},
		{"sandbox memory too large", `{sandbox: {memory: 8Gi}}`,
			"sandbox.memory must be between 64Ki and 4Gi"},
		{"module size too large", `{sandbox: {maxModuleSize: 1Gi}}`,
			"sandbox.maxModuleSize must be between 1Ki and 100Mi"},
		{"rotate credentials without clients", `{incident: {rotateCredentials: true}}`,
			"incident.rotateCredentials needs at least one client in auth.clients"},
		{"unknown disabled tool", `{disabledTools: [drop_database]}`,
			`Unsupported value: "drop_database"`},
		{"unknown scope", `{auth: {clients: [{name: a, scopes: ["mcp:admin"]}]}}`,
			`Unsupported value: "mcp:admin"`},
		{"client name not a DNS label", `{auth: {clients: [{name: "Bad_Name"}]}}`,
			"spec.auth.clients[0].name in body should match"},
		{"too many replicas", `{replicas: 500, storage: {type: Postgres, postgres: {uriSecret: {name: db}}}}`,
			"spec.replicas: Invalid value: 500: spec.replicas in body should be less than or equal to 50"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := decode(t, "apiVersion: memorymcp.io/v1alpha1\nkind: MemoryMCP\nspec: "+tt.spec)
			obj.SetName("invalid-" + strconv.Itoa(i))
			_, err := create(t, obj)
			if err == nil {
				t.Fatalf("object accepted, want refusal with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("refusal does not name its rule\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestLongNameRefused(t *testing.T) {
	obj := decode(t, "apiVersion: memorymcp.io/v1alpha1\nkind: MemoryMCP")
	obj.SetName(strings.Repeat("a", 41))
	_, err := create(t, obj)
	if err == nil || !strings.Contains(err.Error(), "metadata.name must be at most 40 characters") {
		t.Fatalf("got %v, want the name length refusal", err)
	}
}

func createNamespace(cfg *rest.Config, name string) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err = cs.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	return err
}

// A typed Go client must be able to create an object that sets nothing:
// optional structs are left out of the JSON rather than sent as zero values
// that the schema would refuse.
func TestEmptyTypedObjectAccepted(t *testing.T) {
	obj := &mcpv1alpha1.MemoryMCP{
		TypeMeta:   metav1.TypeMeta{APIVersion: mcpv1alpha1.GroupVersion.String(), Kind: "MemoryMCP"},
		ObjectMeta: metav1.ObjectMeta{Name: "typed", Namespace: "default"},
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"spec"`) {
		t.Errorf("empty spec encoded: %s", data)
	}
	if _, err := create(t, &unstructured.Unstructured{Object: raw}); err != nil {
		t.Fatalf("empty typed object refused: %v", err)
	}
}
