package main

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// The names the controller renders for a MemoryMCP called x.
const (
	apiNamespace   = "memory"
	apiConfigMap   = "x-runtime-config"
	apiSecret      = "x-credentials"
	apiServiceUser = "x-server"
)

// TestAPIMode runs the binary as the controller deploys it, following its
// ConfigMap and Secret through a real API server with only the rights the
// controller's Role grants.
func TestAPIMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cs, restCfg := startControlPlane(t)
	oldTok, agent := newToken(t, "agent", identity.ScopeRead, identity.ScopeWrite)
	createServerObjects(t, cs, renderConfig(t, apiConfig(1, "")), renderCredentials(t, agent))
	kubeconfig := serviceAccountKubeconfig(t, cs, restCfg)

	p := startServer(t, "--kubeconfig="+kubeconfig, "--namespace="+apiNamespace,
		"--config-map="+apiConfigMap, "--credentials-secret="+apiSecret)
	p.awaitGeneration(t, 1)
	if msg := callErr(t.Context(), p.connect(t, oldTok), "health_check", map[string]any{}); msg != "" {
		t.Fatalf("health_check: %s", msg)
	}

	t.Run("incident mode applies live with its reason audited", func(t *testing.T) {
		updateConfigMap(t, cs, renderConfig(t, apiConfig(2, "suspected token leak")))
		p.awaitGeneration(t, 2)
		if v := p.gauge(t, "memory_mcp_incident_mode"); v != 1 {
			t.Errorf("memory_mcp_incident_mode = %v, want 1", v)
		}
		p.awaitAudit(t, p.stdout.String, map[string]func(auditLine) bool{
			"incident mode with its reason": func(e auditLine) bool {
				return e.Operation == "config_change" && e.Metadata["reason"] == "suspected token leak" &&
					e.Metadata["incident_mode"] == true
			}})
	})

	t.Run("the running server enforces the incident limits", func(t *testing.T) {
		names := toolNames(t, p.connect(t, oldTok))
		for _, tool := range []string{"configure_embeddings", "execute_agent_code"} {
			if names[tool] {
				t.Errorf("%s is still listed under the incident profile", tool)
			}
		}
		res := p.post(t, oldTok, `{"jsonrpc":"2.0","id":1,"method":"tools/call",`+
			`"params":{"name":"configure_embeddings","arguments":{"enabled":false}}}`)
		if !strings.Contains(res.body, `\"configure_embeddings\" is disabled`) {
			t.Errorf("configure_embeddings under the incident profile: %d %s", res.status, res.body)
		}
		// The incident write bucket holds two calls, the one before it
		// twenty: a third write in a row is refused only if the new limit
		// is in force. The refused call above took a write token too.
		status := 0
		for i := 0; i < 4 && status != http.StatusTooManyRequests; i++ {
			status = p.post(t, oldTok, `{"jsonrpc":"2.0","id":2,"method":"tools/call",`+
				`"params":{"name":"create_episode","arguments":{"task_description":"incident"}}}`).status
		}
		if status != http.StatusTooManyRequests {
			t.Errorf("writes under the incident profile: last status %d, want 429 within 4 calls", status)
		}
	})

	t.Run("a rotation keeps both tokens, then drops the old", func(t *testing.T) {
		newTok, rotated := newToken(t, "agent", identity.ScopeRead, identity.ScopeWrite)
		grace := time.Now().Add(time.Hour)
		rotated.Tokens = append(rotated.Tokens, runtimeconfig.TokenHash{
			SHA256: runtimeconfig.HashToken(oldTok), NotAfter: &grace})
		updateSecret(t, cs, renderCredentials(t, rotated))
		p.await(t, "the new token to be accepted", func() bool { return p.authenticates(t, newTok) })
		if !p.authenticates(t, oldTok) {
			t.Error("the old token was refused during its grace period")
		}

		rotated.Tokens = rotated.Tokens[:1]
		updateSecret(t, cs, renderCredentials(t, rotated))
		p.await(t, "the old token to be refused", func() bool { return !p.authenticates(t, oldTok) })
		if !p.authenticates(t, newTok) {
			t.Error("the new token was refused after the old one was dropped")
		}
	})
}

// authenticates reports whether the server accepts token.
func (p *proc) authenticates(t *testing.T, token string) bool {
	t.Helper()
	return p.post(t, token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`).status != http.StatusUnauthorized
}

// apiConfig is the runtime config the controller would render; with a
// reason it is the incident profile: lower limits, risky tools off.
func apiConfig(gen int64, incident string) *runtimeconfig.Config {
	cfg := runtimeconfig.Default()
	cfg.Generation = gen
	if incident != "" {
		cfg.Incident = &runtimeconfig.Incident{Reason: incident}
		cfg.RateLimits.Read = runtimeconfig.Bucket{RequestsPerSecond: 10, Burst: 20}
		cfg.RateLimits.Write = runtimeconfig.Bucket{RequestsPerSecond: 1, Burst: 2}
		cfg.DisabledTools = []string{"configure_embeddings", "execute_agent_code"}
		cfg.Audit.Level = "debug"
	}
	return cfg
}

func startControlPlane(t *testing.T) (*kubernetes.Clientset, *rest.Config) {
	t.Helper()
	dir, err := envtestutil.AssetsDir()
	if errors.Is(err, envtestutil.ErrNoAssets) {
		t.Skip(err.Error())
	}
	must(t, err)
	// Only core and RBAC objects are needed: no CRDs to install.
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	restCfg, err := env.Start()
	must(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	cs, err := kubernetes.NewForConfig(restCfg)
	must(t, err)
	return cs, restCfg
}

// createServerObjects creates what the controller renders for the server:
// the two documents, its ServiceAccount, and a Role reading exactly those
// two objects by name, as controllers/identity.go builds it.
func createServerObjects(t *testing.T, cs *kubernetes.Clientset, cfg, creds []byte) {
	t.Helper()
	ctx, opts := t.Context(), metav1.CreateOptions{}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: apiNamespace} }
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiNamespace}}, opts)
	must(t, err)
	_, err = cs.CoreV1().ConfigMaps(apiNamespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta(apiConfigMap),
		Data: map[string]string{runtimeconfig.ConfigKey: string(cfg)}}, opts)
	must(t, err)
	_, err = cs.CoreV1().Secrets(apiNamespace).Create(ctx, &corev1.Secret{ObjectMeta: meta(apiSecret),
		Data: map[string][]byte{runtimeconfig.CredentialsKey: creds}}, opts)
	must(t, err)
	_, err = cs.CoreV1().ServiceAccounts(apiNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta(apiServiceUser)}, opts)
	must(t, err)

	verbs := []string{"get", "list", "watch"}
	_, err = cs.RbacV1().Roles(apiNamespace).Create(ctx, &rbacv1.Role{ObjectMeta: meta(apiServiceUser),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{apiConfigMap}, Verbs: verbs},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{apiSecret}, Verbs: verbs},
		}}, opts)
	must(t, err)
	_, err = cs.RbacV1().RoleBindings(apiNamespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta(apiServiceUser),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: apiServiceUser},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: apiServiceUser, Namespace: apiNamespace}},
	}, opts)
	must(t, err)
}

// serviceAccountKubeconfig writes a kubeconfig authenticating as the
// server's ServiceAccount with a token from the TokenRequest API, as the
// kubelet would mount it.
func serviceAccountKubeconfig(t *testing.T, cs *kubernetes.Clientset, restCfg *rest.Config) string {
	t.Helper()
	tr, err := cs.CoreV1().ServiceAccounts(apiNamespace).CreateToken(t.Context(), apiServiceUser,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	must(t, err)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restCfg.Host, CertificateAuthorityData: restCfg.CAData}
	kc.AuthInfos["server"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts["server"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "server", Namespace: apiNamespace}
	kc.CurrentContext = "server"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, clientcmd.WriteToFile(*kc, path))
	return path
}

func updateConfigMap(t *testing.T, cs *kubernetes.Clientset, cfg []byte) {
	t.Helper()
	cms := cs.CoreV1().ConfigMaps(apiNamespace)
	cm, err := cms.Get(t.Context(), apiConfigMap, metav1.GetOptions{})
	must(t, err)
	cm.Data[runtimeconfig.ConfigKey] = string(cfg)
	_, err = cms.Update(t.Context(), cm, metav1.UpdateOptions{})
	must(t, err)
}

func updateSecret(t *testing.T, cs *kubernetes.Clientset, creds []byte) {
	t.Helper()
	secrets := cs.CoreV1().Secrets(apiNamespace)
	s, err := secrets.Get(t.Context(), apiSecret, metav1.GetOptions{})
	must(t, err)
	s.Data[runtimeconfig.CredentialsKey] = creds
	_, err = secrets.Update(t.Context(), s, metav1.UpdateOptions{})
	must(t, err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(strings.TrimSpace(err.Error()))
	}
}
