package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/memorymcp/memory-mcp-operator/internal/guard"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// rigLimits are small input limits, so each one is easy to break on purpose.
var rigLimits = guard.Limits{MaxBodyBytes: 4096, MaxDepth: 8, MaxStringBytes: 64,
	MaxListLength: 8, MaxObjectKeys: 16}

// rigRemote is the peer address httptest.NewRequest gives every request.
const rigRemote = "192.0.2.1"

// rig is the HTTP middleware and the MCP middleware around a stateless MCP
// server with one read tool and two write tools (one of them the code
// tool, hidden while the sandbox is off), writing audit lines to a
// buffer and metrics to a registry of its own.
type rig struct {
	l   *Layers
	reg *prometheus.Registry
	out *syncBuffer
	h   http.Handler
	now time.Time

	mu    sync.Mutex
	calls []toolSeen // what the tool handlers saw
}

// toolSeen is one tool invocation as its handler saw it.
type toolSeen struct {
	Tool, Client string
	Args         map[string]any
}

// rigConfig is the config every rig starts with: the sandbox off so the
// rig's input limits are not raised for WebAssembly modules, and every
// event written.
func rigConfig() *runtimeconfig.Config {
	cfg := runtimeconfig.Default()
	cfg.Sandbox.Enabled = false
	return cfg
}

func newRig(t *testing.T, cfg *runtimeconfig.Config, creds *runtimeconfig.Credentials) *rig {
	t.Helper()

	// The clock stands still, so rate-limit buckets never refill and audit
	// timestamps are known; it is the real time, which the SDK's own
	// expiry check uses.
	r := &rig{reg: prometheus.NewRegistry(), out: &syncBuffer{}, now: time.Now().UTC().Truncate(time.Second)}
	lim := rigLimits
	l, err := NewLayers(t.Context(), Options{Registerer: r.reg, AuditStdout: r.out, Limits: &lim,
		MetadataURL: "https://mcp.example/.well-known/oauth-protected-resource",
		Now:         func() time.Time { return r.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if err := l.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	l.ApplyCredentials(creds)
	r.l = l

	s := mcp.NewServer(&mcp.Implementation{Name: "rig", Version: "v0"}, nil)
	for _, tool := range []string{"query_memory", "delete_episode", codeTool} {
		mcp.AddTool(s, &mcp.Tool{Name: tool}, r.handler(tool))
	}
	s.AddReceivingMiddleware(l.MCPMiddleware())
	r.h = l.HTTPMiddleware()(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))
	return r
}

func (r *rig) handler(tool string) mcp.ToolHandlerFor[map[string]any, echo] {
	return func(ctx context.Context, _ *mcp.CallToolRequest, args map[string]any) (*mcp.CallToolResult, echo, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, toolSeen{Tool: tool, Client: identity.ClientID(ctx), Args: args})
		return nil, echo{Text: identity.ClientID(ctx)}, nil
	}
}

func (r *rig) seen() []toolSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]toolSeen(nil), r.calls...)
}

// post sends one JSON-RPC body to /mcp with token as a bearer token ("" for
// none), after edit changes the request when it is not nil.
func (r *rig) post(token, body string, edit func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if edit != nil {
		edit(req)
	}
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w
}

// callBody is a tools/call request for tool with the given arguments.
func callBody(id int, tool string, args any) string {
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// auditLines returns the audit lines written so far, each decoded into a
// generic map, and fails the test on a line that is not one JSON object.
func (r *rig) auditLines(t *testing.T) []map[string]any {
	t.Helper()
	r.out.mu.Lock()
	text := r.out.buf.String()
	r.out.mu.Unlock()
	return parseAuditLines(t, text)
}

func parseAuditLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&e); err != nil || dec.More() {
			t.Fatalf("audit line %d is not one JSON object (%v): %q", i, err, line)
		}
		out = append(out, e)
	}
	return out
}

// counters returns every non-zero counter of the registry, keyed by name
// and labels, so a test can compare them all at once.
func (r *rig) counters(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				out[f.GetName()+labels(m)] = v
			}
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var kv []string
	for _, l := range m.GetLabel() {
		kv = append(kv, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(kv)
	return "{" + strings.Join(kv, ",") + "}"
}
