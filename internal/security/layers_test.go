package security

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// syncBuffer collects audit lines written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// events returns the audit events with the given operation, as
// "client_id result reason".
func (b *syncBuffer) events(op string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var e struct {
			Operation, Result string
			ClientID          string `json:"client_id"`
			Metadata          map[string]any
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Operation == op {
			out = append(out, e.ClientID+" "+e.Result+" "+strings.SplitN(e.Metadata["reason"].(string), ":", 2)[0])
		}
	}
	return out
}

type echo struct {
	Text string `json:"text"`
}

// newMemoryServer is a minimal MCP server with one read and one write tool
// named like the memory tools.
func newMemoryServer(l *Layers) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v0"}, nil)
	handler := func(ctx context.Context, _ *mcp.CallToolRequest, in echo) (*mcp.CallToolResult, echo, error) {
		// The tool sees the authenticated client, never one from the body.
		return nil, echo{Text: identity.ClientID(ctx) + ":" + in.Text}, nil
	}
	mcp.AddTool(s, &mcp.Tool{Name: "query_memory", Description: "read"}, handler)
	mcp.AddTool(s, &mcp.Tool{Name: "delete_episode", Description: "write"}, handler)
	s.AddReceivingMiddleware(l.MCPMiddleware())
	return s
}

const (
	readerToken = "mmcp_reader"
	writerToken = "mmcp_writer"
	mallory     = "mmcp_mallory"
)

func testCredentials() *runtimeconfig.Credentials {
	client := func(name, token string, scopes ...string) runtimeconfig.ClientCredentials {
		return runtimeconfig.ClientCredentials{Name: name, Scopes: scopes,
			Tokens: []runtimeconfig.TokenHash{{SHA256: runtimeconfig.HashToken(token)}}}
	}
	return &runtimeconfig.Credentials{SchemaVersion: runtimeconfig.SchemaVersion, Clients: []runtimeconfig.ClientCredentials{
		client("reader", readerToken, identity.ScopeRead),
		client("writer", writerToken, identity.ScopeRead, identity.ScopeWrite),
		client("mallory", mallory, identity.ScopeRead, identity.ScopeWrite),
	}}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func connect(ctx context.Context, t *testing.T, url, token string) (*mcp.ClientSession, error) {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v0"}, nil)
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url,
		HTTPClient: &http.Client{Transport: bearer{token}}}, nil)
}

func call(ctx context.Context, s *mcp.ClientSession, tool string) (string, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hi"}})
	if err != nil {
		return "", err
	}
	if res.IsError {
		return "", errors.New(res.Content[0].(*mcp.TextContent).Text)
	}
	out, _ := json.Marshal(res.StructuredContent)
	return string(out), nil
}

func toolNames(ctx context.Context, t *testing.T, s *mcp.ClientSession) []string {
	t.Helper()
	res, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func TestLayersEndToEnd(t *testing.T) {
	ctx := t.Context()
	out := &syncBuffer{}
	l, err := NewLayers(ctx, Options{Registerer: prometheus.NewRegistry(), AuditStdout: out,
		MetadataURL: "https://mcp.example/.well-known/oauth-protected-resource"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := runtimeconfig.Default()
	cfg.RateLimits.Read = runtimeconfig.Bucket{RequestsPerSecond: 0.001, Burst: 3}
	cfg.BlockedClients.Names = []string{"mallory"}
	if err := l.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	l.ApplyCredentials(testCredentials())
	server := newMemoryServer(l)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	srv := httptest.NewServer(l.HTTPMiddleware()(handler))
	defer srv.Close()

	t.Run("no token is refused with a challenge", func(t *testing.T) {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
			t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if diff := cmp.Diff([]string{"anonymous failure authentication failed"}, out.events("authentication")); diff != "" {
			t.Errorf("authentication events (-want +got):\n%s", diff)
		}
	})

	writer, err := connect(ctx, t, srv.URL, writerToken)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	t.Run("good token calls both tools as itself", func(t *testing.T) {
		for _, tool := range []string{"query_memory", "delete_episode"} {
			got, err := call(ctx, writer, tool)
			if err != nil || got != `{"text":"writer:hi"}` {
				t.Errorf("%s: %q, %v", tool, got, err)
			}
		}
	})

	t.Run("read-only token cannot call a write tool", func(t *testing.T) {
		reader, err := connect(ctx, t, srv.URL, readerToken)
		if err != nil {
			t.Fatal(err)
		}
		defer reader.Close()
		if _, err := call(ctx, reader, "delete_episode"); err == nil || !strings.Contains(err.Error(), `needs scope "mcp:write"`) {
			t.Errorf("write with a read token: %v", err)
		}
		if diff := cmp.Diff([]string{`reader denied tool "delete_episode" needs scope "mcp`},
			out.events("security_violation")); diff != "" {
			t.Errorf("security_violation events (-want +got):\n%s", diff)
		}
	})

	t.Run("blocked client is refused", func(t *testing.T) {
		if s, err := connect(ctx, t, srv.URL, mallory); err == nil {
			s.Close()
			t.Fatal("blocked client connected")
		} else if !strings.Contains(err.Error(), `client "mallory" is blocked`) {
			t.Errorf("error = %v", err)
		}
	})

	t.Run("burst exceeded is refused and audited", func(t *testing.T) {
		// The writer used one read token above; two remain of the burst.
		for range 2 {
			if _, err := call(ctx, writer, "query_memory"); err != nil {
				t.Fatal(err)
			}
		}
		_, err := call(ctx, writer, "query_memory")
		if err == nil || !strings.Contains(err.Error(), "Too Many Requests") {
			t.Errorf("call over the burst: %v", err)
		}
		if got := out.events("rate_limit_violation"); len(got) != 1 || !strings.HasPrefix(got[0], "writer denied rate limit exceeded") {
			t.Errorf("rate_limit_violation events = %q", got)
		}
	})

	t.Run("disabled tool is hidden and refused", func(t *testing.T) {
		cfg := runtimeconfig.Default()
		cfg.DisabledTools = []string{"delete_episode"}
		if err := l.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"query_memory"}, toolNames(ctx, t, writer)); diff != "" {
			t.Errorf("tools/list (-want +got):\n%s", diff)
		}
		_, err := call(ctx, writer, "delete_episode")
		var we *jsonrpc.Error
		if !errors.As(err, &we) || we.Code != CodeForbidden || !strings.Contains(we.Message, "is disabled") {
			t.Errorf("call to a disabled tool: %v", err)
		}
	})
}

func TestHTTPRefusalsCarryRetryTime(t *testing.T) {
	l, err := NewLayers(t.Context(), Options{AuditStdout: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := runtimeconfig.Default()
	cfg.RateLimits.Write = runtimeconfig.Bucket{RequestsPerSecond: 0.5, Burst: 1}
	if err := l.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	l.ApplyCredentials(testCredentials())
	h := l.HTTPMiddleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+writerToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	callBody := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_episode","arguments":{}}}`
	if w := post(callBody); w.Code != http.StatusOK {
		t.Fatalf("first call: %d %s", w.Code, w.Body)
	}
	w := post(callBody)
	want := `{"error":{"code":-32029,"data":{"retry_after_seconds":2},` +
		`"message":"rate limit exceeded for write calls by client \"writer\": retry after 2s"},"id":7,"jsonrpc":"2.0"}`
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" ||
		strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("got %d Retry-After=%q body %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	deep := `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"query_memory","arguments":` +
		strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40) + "}}"
	if w := post(deep); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "depth limit of 32") {
		t.Errorf("deep body: %d %s", w.Code, w.Body)
	}
}

func TestMCPMiddlewareOverStdio(t *testing.T) {
	out := &syncBuffer{}
	l, err := NewLayers(t.Context(), Options{AuditStdout: out,
		LocalClient: &identity.Client{ID: "local", Scopes: []string{identity.ScopeRead}, Method: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := runtimeconfig.Default()
	cfg.RateLimits.Read = runtimeconfig.Bucket{RequestsPerSecond: 0.25, Burst: 1}
	if err := l.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	cs := connectInMemory(t, l)

	if got, err := call(t.Context(), cs, "query_memory"); err != nil || got != `{"text":"local:hi"}` {
		t.Fatalf("first call: %q %v", got, err)
	}
	_, err = call(t.Context(), cs, "query_memory")
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != CodeRateLimited || string(we.Data) != `{"retry_after_seconds":4}` {
		t.Errorf("second call: %v (%+v)", err, we)
	}
	if _, err := call(t.Context(), cs, "delete_episode"); err == nil || !strings.Contains(err.Error(), "needs scope") {
		t.Errorf("write without scope: %v", err)
	}
}

// connectInMemory serves the test memory server behind l's MCP middleware
// over in-memory transports, as stdio would, and connects a client.
func connectInMemory(t *testing.T, l *Layers) *mcp.ClientSession {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := newMemoryServer(l).Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "agent"}, nil).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// TestMCPCallWithoutClientIsRefused serves MCP without HTTP and without a
// local client, as a transport the layers do not know would: the call is
// refused, audited and counted, and the tool does not run.
func TestMCPCallWithoutClientIsRefused(t *testing.T) {
	out := &syncBuffer{}
	reg := prometheus.NewRegistry()
	l, err := NewLayers(t.Context(), Options{AuditStdout: out, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cs := connectInMemory(t, l)

	got, err := call(t.Context(), cs, "query_memory")
	var we *jsonrpc.Error
	if !errors.As(err, &we) || we.Code != CodeForbidden || !strings.Contains(we.Message, "unauthenticated") {
		t.Errorf("call without a client: %q, %v", got, err)
	}
	if diff := cmp.Diff([]string{"anonymous denied unauthenticated call refused"},
		out.events("security_violation")); diff != "" {
		t.Errorf("security_violation events (-want +got):\n%s", diff)
	}
	want := map[string]float64{"audit_security_violations_total": 1,
		`memory_mcp_tool_calls_total{result="refused",tool="query_memory"}`: 1}
	if diff := cmp.Diff(want, (&rig{reg: reg}).counters(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}
