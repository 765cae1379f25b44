package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/controllers"
	"github.com/memorymcp/memory-mcp-operator/internal/auth"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// filesConfig is the runtime config of the files-mode tests: a write
// bucket small enough to exhaust, audit to a file and to an HTTP sink.
func filesConfig(gen int64, sinkURL string) *runtimeconfig.Config {
	cfg := runtimeconfig.Default()
	cfg.Generation = gen
	cfg.RateLimits.Write = runtimeconfig.Bucket{RequestsPerSecond: 1, Burst: 8}
	cfg.Audit.Destination = "file"
	cfg.Audit.Sinks = []runtimeconfig.Sink{{Name: "collector", Type: runtimeconfig.SinkHTTP,
		HTTP: &runtimeconfig.HTTPSink{URL: sinkURL, Format: runtimeconfig.FormatNDJSON}}}
	return cfg
}

// collector is an HTTP audit sink counting the events it accepts.
func collector(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var lines atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lines.Add(int64(strings.Count(string(b), "\n")))
	}))
	t.Cleanup(srv.Close)
	return srv, &lines
}

// TestFilesMode runs the binary on mounted files, as outside a cluster or
// with the API unreachable, and walks through every security layer.
func TestFilesMode(t *testing.T) {
	sink, shipped := collector(t)
	writerTok, writer := newToken(t, "writer", identity.ScopeRead, identity.ScopeWrite)
	readerTok, reader := newToken(t, "reader", identity.ScopeRead)
	burstTok, burst := newToken(t, "burst", identity.ScopeRead, identity.ScopeWrite)
	cfgDir := newProjection(t, map[string][]byte{
		runtimeconfig.ConfigKey: renderConfig(t, filesConfig(1, sink.URL))})
	credDir := newProjection(t, map[string][]byte{
		runtimeconfig.CredentialsKey: renderCredentials(t, writer, reader, burst)})
	auditDir := t.TempDir()
	p := startServer(t, "--config-file="+cfgDir.path(runtimeconfig.ConfigKey),
		"--credentials-file="+credDir.path(runtimeconfig.CredentialsKey), "--audit-dir="+auditDir)
	p.awaitGeneration(t, 1)

	t.Run("no token is refused with a challenge", func(t *testing.T) {
		res := p.post(t, "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		challenge := res.header.Get("WWW-Authenticate")
		if res.status != http.StatusUnauthorized || !strings.Contains(challenge, auth.MetadataPath) {
			t.Errorf("status %d, WWW-Authenticate %q; want 401 naming %s", res.status, challenge,
				auth.MetadataPath)
		}
		md, err := http.Get("http://" + p.mcpAddr + auth.MetadataPath)
		if err != nil {
			t.Fatal(err)
		}
		_ = md.Body.Close()
		if md.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", auth.MetadataPath, md.Status)
		}
	})

	cs := p.connect(t, writerTok)
	t.Run("a good token lists tools and writes", func(t *testing.T) {
		if n := len(toolNames(t, cs)); n != 18 {
			t.Errorf("tools/list: %d tools, want 18", n)
		}
		if msg := callErr(t.Context(), cs, "create_episode", map[string]any{"task_description": "e2e"}); msg != "" {
			t.Errorf("create_episode: %s", msg)
		}
	})

	t.Run("a read-only token cannot write", func(t *testing.T) {
		ro := p.connect(t, readerTok)
		msg := callErr(t.Context(), ro, "create_episode", map[string]any{"task_description": "e2e"})
		if !strings.Contains(msg, `needs scope "mcp:write"`) {
			t.Errorf("create_episode with mcp:read: %q, want a scope refusal", msg)
		}
	})

	t.Run("an exhausted bucket answers 429 with Retry-After", func(t *testing.T) {
		bs := p.connect(t, burstTok)
		var msg string
		for i := 0; i < 30 && msg == ""; i++ {
			msg = callErr(t.Context(), bs, "create_episode", map[string]any{"task_description": "burst"})
		}
		// The SDK client reports the HTTP status; the JSON-RPC body with
		// retry_after_seconds is checked on the raw answer below.
		if !strings.Contains(msg, "Too Many Requests") {
			t.Fatalf("no rate-limit refusal after 30 writes; last: %q", msg)
		}
		res := p.post(t, burstTok, `{"jsonrpc":"2.0","id":9,"method":"tools/call",`+
			`"params":{"name":"create_episode","arguments":{"task_description":"x"}}}`)
		if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" ||
			!strings.Contains(res.body, "retry_after_seconds") {
			t.Errorf("status %d, Retry-After %q, body %s; want 429 with Retry-After", res.status,
				res.header.Get("Retry-After"), res.body)
		}
	})

	t.Run("a config change disables a tool live", func(t *testing.T) {
		next := filesConfig(2, sink.URL)
		next.DisabledTools = []string{"create_episode"}
		cfgDir.update(t, map[string][]byte{runtimeconfig.ConfigKey: renderConfig(t, next)})
		p.awaitGeneration(t, 2)
		if toolNames(t, cs)["create_episode"] {
			t.Error("create_episode is still listed after being disabled")
		}
		msg := callErr(t.Context(), cs, "create_episode", map[string]any{"task_description": "e2e"})
		if !strings.Contains(msg, `"create_episode" is disabled`) {
			t.Errorf("calling a disabled tool: %q", msg)
		}
	})

	t.Run("the audit log holds every refusal and the change", func(t *testing.T) {
		p.awaitAudit(t, func() string { return readFile(t, filepath.Join(auditDir, "audit.log")) },
			filesAudit())
		p.await(t, "the sink to receive events", func() bool { return shipped.Load() > 0 })
	})

	t.Run("metrics cover the alerts and the dashboard", func(t *testing.T) {
		checkExportedMetrics(t, p.metrics(t))
	})
}

// filesAudit is what TestFilesMode must have left in the audit log.
func filesAudit() map[string]func(auditLine) bool {
	return map[string]func(auditLine) bool{
		"authentication failure": func(e auditLine) bool {
			return e.Operation == "authentication" && e.Result == "failure"
		},
		"scope refusal": func(e auditLine) bool {
			return e.Operation == "security_violation" && e.ClientID == "reader"
		},
		"rate limit": func(e auditLine) bool {
			return e.Operation == "rate_limit_violation" && e.ClientID == "burst"
		},
		"disabled tool": func(e auditLine) bool {
			return e.Operation == "security_violation" && e.Metadata["tool"] == "create_episode" &&
				strings.Contains(e.Metadata["reason"].(string), "disabled")
		},
		"config change": func(e auditLine) bool {
			return e.Operation == "config_change" && e.Metadata["generation"] == float64(2) &&
				e.ClientID == "system"
		},
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var metricName = regexp.MustCompile(`\b(?:audit|sandbox|memory_mcp)_[a-z_]+`)

// checkExportedMetrics compares what the alerts and the dashboard read with
// what the binary exports, so a renamed metric fails here rather than as
// an empty panel or an alert that never fires.
func checkExportedMetrics(t *testing.T, exposition string) {
	t.Helper()
	var used []string
	rule := controllers.SecurityAlertRuleGroup(&mcpv1alpha1.MemoryMCP{})
	for _, r := range rule.Rules {
		used = append(used, metricName.FindAllString(r.Expr.String(), -1)...)
	}
	used = append(used, metricName.FindAllString(
		readFile(t, filepath.Join("..", "..", "config", "grafana", "memory-mcp-security.json")), -1)...)
	slices.Sort(used)

	exported := map[string]bool{}
	for line := range strings.Lines(exposition) {
		if name, _, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			name, _, _ = strings.Cut(name, "{")
			exported[name] = true
		}
	}
	var missing []string
	for _, name := range slices.Compact(used) {
		if !exported[name] {
			missing = append(missing, name)
		}
	}
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("metrics read by alerts or the dashboard but not exported (-want +got):\n%s", diff)
	}
}
