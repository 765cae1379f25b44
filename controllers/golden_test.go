package controllers

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var goldenTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a MemoryMCP with the fields the API server would default.
func fixture(name string, mutate func(*mcpv1alpha1.MemoryMCP)) *mcpv1alpha1.MemoryMCP {
	m := &mcpv1alpha1.MemoryMCP{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "agents", UID: "11111111-2222-3333-4444-555555555555",
			Generation: 3},
		Spec: mcpv1alpha1.MemoryMCPSpec{
			Replicas: ptr.To[int32](1),
			Storage:  mcpv1alpha1.StorageSpec{Type: mcpv1alpha1.StorageSQLite},
			Auth: mcpv1alpha1.AuthSpec{
				Clients: []mcpv1alpha1.ClientSpec{
					{Name: "planner", Scopes: []mcpv1alpha1.Scope{mcpv1alpha1.ScopeRead, mcpv1alpha1.ScopeWrite}},
					{Name: "viewer"},
				},
				Rotation: mcpv1alpha1.RotationSpec{
					Interval:    metav1.Duration{Duration: 720 * time.Hour},
					GracePeriod: metav1.Duration{Duration: time.Hour},
				},
			},
			Incident: mcpv1alpha1.IncidentSpec{
				DisabledTools:    []mcpv1alpha1.ToolName{"execute_agent_code", "configure_embeddings"},
				AuditLevel:       mcpv1alpha1.AuditDebug,
				AuditDestination: mcpv1alpha1.AuditBoth,
			},
		},
	}
	if mutate != nil {
		mutate(m)
	}
	return m
}

func goldenFixtures() map[string]*mcpv1alpha1.MemoryMCP {
	return map[string]*mcpv1alpha1.MemoryMCP{
		"sqlite-defaults": fixture("memory", nil),
		"postgres-incident-lockdown": fixture("prod", func(m *mcpv1alpha1.MemoryMCP) {
			m.Spec.Replicas = ptr.To[int32](3)
			m.Spec.Image = "registry.example/mcp-server:v9"
			m.Spec.Resources = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			}
			m.Spec.Storage = mcpv1alpha1.StorageSpec{Type: mcpv1alpha1.StoragePostgres,
				Postgres: &mcpv1alpha1.PostgresStorage{
					URISecret: mcpv1alpha1.SecretKeyRef{Name: "pg-app", Key: "uri"}, Port: 5432,
					EgressTo: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{"cnpg.io/cluster": "pg"}}}},
				}}
			m.Spec.DisabledTools = []mcpv1alpha1.ToolName{"bulk_episodes"}
			m.Spec.BlockedClients = mcpv1alpha1.BlockedClientsSpec{Names: []string{"mallory"},
				CIDRs: []mcpv1alpha1.CIDR{"203.0.113.0/24", "2001:db8::/32"}}
			m.Spec.Audit.Sinks = []mcpv1alpha1.AuditSink{
				{Name: "siem", Type: mcpv1alpha1.SinkSyslog, Syslog: &mcpv1alpha1.SyslogSink{
					Address: "siem.example:6514", AppName: "memory-mcp",
					TLS: &mcpv1alpha1.TLSSpec{CASecret: &mcpv1alpha1.SecretKeyRef{Name: "siem-ca", Key: "ca.crt"}}}},
				{Name: "es", Type: mcpv1alpha1.SinkHTTP, HTTP: &mcpv1alpha1.HTTPSink{
					URL: "https://es.example/_bulk", Format: mcpv1alpha1.FormatElasticsearch, Index: "audit",
					AuthorizationSecret: &mcpv1alpha1.SecretKeyRef{Name: "es-auth", Key: "header"}}},
			}
			m.Spec.Network = mcpv1alpha1.NetworkSpec{
				AllowedNamespaces: []string{"agents-prod"},
				MetricsNamespaces: []string{"monitoring"},
			}
			m.Spec.Monitoring.PrometheusRule.Labels = map[string]string{"release": "kube-prometheus"}
			m.Spec.IncidentMode = true
			m.Spec.Incident.Reason = "token leak suspected"
			m.Spec.Incident.NetworkLockdown = true
		}),
	}
}

// renderAll builds every owned object of m, as the reconciler would with
// a fixed clock and fixed tokens.
func renderAll(t *testing.T, m *mcpv1alpha1.MemoryMCP) []client.Object {
	t.Helper()
	rc, err := renderRuntimeConfig(m)
	if err != nil {
		t.Fatalf("rendering runtime config: %v", err)
	}
	p := newRotationPolicy(m, goldenTime, nil)
	st, err := nextCredentials(m, p, readCredentialState(nil, nil), "", fixedTokens())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := buildCredentialsSecret(m, st)
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		buildServiceAccount(m), buildRole(m), buildRoleBinding(m),
		buildConfigMap(m, rc), creds,
	}
	for _, c := range m.Spec.Auth.Clients {
		objs = append(objs, buildClientSecret(m, c.Name, st.Tokens[c.Name]))
	}
	if storageType(m) == mcpv1alpha1.StorageSQLite {
		objs = append(objs, buildDataClaim(m))
	}
	objs = append(objs, buildDeployment(m, DefaultServerImage), buildService(m))
	if needsPodDisruptionBudget(m) {
		objs = append(objs, buildPodDisruptionBudget(m))
	}
	return append(objs, buildNetworkPolicy(m, goldenAPIServer), buildServiceMonitor(m), buildPrometheusRule(m))
}

func fixedTokens() func() (string, error) {
	n := 0
	return func() (string, error) {
		n++
		return runtimeconfig.TokenPrefix + "golden-token-" + string(rune('a'+n-1)), nil
	}
}

func TestGoldenObjects(t *testing.T) {
	for name, m := range goldenFixtures() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			for _, obj := range renderAll(t, m) {
				b, err := yaml.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				buf.WriteString("---\n")
				buf.Write(b)
			}
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run `make update-golden`): %v", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("rendered objects differ from %s (-want +got); run `make update-golden` "+
					"if the change is intended:\n%s", path, diff)
			}
		})
	}
}
