package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

const auditLog = `{"timestamp":"2026-12-01T10:00:00Z","level":"warn","operation":"authentication","client_id":"anonymous","result":"failure","metadata":{}}
{"timestamp":"2026-12-01T10:00:02Z","level":"info","operation":"delete_episode","client_id":"planner","result":"success","metadata":{"episode_id":"e1"}}
`

func TestAuditSearchPrintsMatchingLinesVerbatim(t *testing.T) {
	out, err := runCLI(t, auditLog, "audit", "search", "--operation", "delete_episode")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(auditLog, "\n")[1] + "\n"
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestAuditReportCountsFailures(t *testing.T) {
	out, err := runCLI(t, auditLog, "audit", "report")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"authentication/failure  1", "delete_episode/success  1", "anonymous  1"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestToolCallRefusesNonObjectArguments(t *testing.T) {
	_, err := runCLI(t, "", "tool", "call", "health_check", "--args", "[1]")
	if err == nil || !strings.Contains(err.Error(), "--args must be a JSON object") {
		t.Fatalf("got %v, want an argument error", err)
	}
}

func TestEvidenceHoldsNoSecrets(t *testing.T) {
	env, err := envtestutil.New(envtestutil.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	token, err := runtimeconfig.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	hash := runtimeconfig.HashToken(token)
	seed(t, c, hash)

	dir := filepath.Join(t.TempDir(), "evidence")
	if err := collectEvidence(ctx, c, evidenceFlags{namespace: "default", out: dir}, "prod"); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"memorymcp.yaml", "runtime-config.json", "credentials-summary.json",
		"deployment.yaml", "networkpolicy.yaml", "events.yaml", "SHA256SUMS"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("evidence lacks %s: %v", name, err)
		}
		if strings.Contains(string(data), hash) || strings.Contains(string(data), token) {
			t.Errorf("%s holds credential material", name)
		}
	}
	summary, _ := os.ReadFile(filepath.Join(dir, "credentials-summary.json"))
	if !strings.Contains(string(summary), `"name": "planner"`) || !strings.Contains(string(summary), `"tokens": 2`) {
		t.Errorf("credentials summary lacks the client's validity:\n%s", summary)
	}
	verifyChecksums(t, dir)
}

func seed(t *testing.T, c client.Client, hash string) {
	t.Helper()
	ctx := context.Background()
	mmcp := &mcpv1alpha1.MemoryMCP{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "default"}}
	notAfter := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	creds, err := runtimeconfig.MarshalCredentials(&runtimeconfig.Credentials{
		SchemaVersion: runtimeconfig.SchemaVersion,
		Clients: []runtimeconfig.ClientCredentials{{
			Name: "planner", Scopes: []string{"mcp:read"},
			Tokens: []runtimeconfig.TokenHash{{SHA256: hash}, {SHA256: hash, NotAfter: &notAfter}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	config, err := runtimeconfig.Marshal(runtimeconfig.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{
		mmcp,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "prod-runtime-config", Namespace: "default"},
			Data: map[string]string{runtimeconfig.ConfigKey: string(config)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prod-credentials", Namespace: "default"},
			Data: map[string][]byte{runtimeconfig.CredentialsKey: creds}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

func verifyChecksums(t *testing.T, dir string) {
	t.Helper()
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != 6 {
		t.Errorf("SHA256SUMS lists %d files, want 6", len(lines))
	}
	for _, line := range lines {
		sum, name, _ := strings.Cut(line, "  ")
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("checksum of %s does not match", name)
		}
	}
}
