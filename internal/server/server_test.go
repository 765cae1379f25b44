package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/mcptools"
	"github.com/memorymcp/memory-mcp-operator/internal/server"
)

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}

func listNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return sortStrings(names)
}

func TestToolsListMatchesCatalog(t *testing.T) {
	_, url := startHTTP(t, server.Options{})
	cs := connect(t, url)
	if diff := cmp.Diff(catalogNames(), listNames(t, cs)); diff != "" {
		t.Errorf("tools/list (-want +got):\n%s", diff)
	}
}

func TestDisabledToolsAreHiddenAndRefused(t *testing.T) {
	srv, url := startHTTP(t, server.Options{})
	cs := connect(t, url)
	srv.SetDisabledTools([]string{mcptools.ExecuteAgentCode, mcptools.ConfigureEmbeddings})

	names := listNames(t, cs)
	for _, hidden := range []string{mcptools.ExecuteAgentCode, mcptools.ConfigureEmbeddings} {
		if slices.Contains(names, hidden) {
			t.Errorf("%s still listed while disabled", hidden)
		}
	}
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{
		Name: mcptools.ConfigureEmbeddings, Arguments: map[string]any{"enabled": false}})
	if err == nil {
		t.Error("calling a disabled tool succeeded")
	}

	srv.SetDisabledTools(nil)
	if diff := cmp.Diff(catalogNames(), listNames(t, cs)); diff != "" {
		t.Errorf("tools/list after re-enabling (-want +got):\n%s", diff)
	}
}

type recordingAuditor struct {
	mu     sync.Mutex
	events []string
}

func (a *recordingAuditor) Record(ctx context.Context, ev mcptools.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, identity.ClientID(ctx)+" "+ev.Operation+" "+ev.Result)
}

// TestSeams checks that an HTTP middleware's identity reaches MCP
// middleware and the auditor, and that audited tools record events.
func TestSeams(t *testing.T) {
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := &identity.Client{ID: "agent-7", Method: "token", Scopes: []string{identity.ScopeRead}}
			next.ServeHTTP(w, r.WithContext(identity.WithClient(r.Context(), c)))
		})
	}
	var mu sync.Mutex
	var seen []string
	observe := func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if p, ok := req.GetParams().(*mcp.CallToolParamsRaw); ok {
				mu.Lock()
				seen = append(seen, identity.ClientID(ctx)+" "+p.Name)
				mu.Unlock()
			}
			return next(ctx, method, req)
		}
	}
	aud := &recordingAuditor{}
	_, url := startHTTP(t, server.Options{HTTPMiddleware: []func(http.Handler) http.Handler{auth},
		MCPMiddleware: []mcp.Middleware{observe}, Auditor: aud})
	cs := connect(t, url)

	res := call(t, cs, mcptools.DeleteEpisode, map[string]any{"episode_id": "ep_x"}, nil)
	if !res.IsError || !strings.Contains(text(res), "confirm") {
		t.Errorf("delete without confirm: isError=%v %q", res.IsError, text(res))
	}
	res = call(t, cs, mcptools.ExecuteAgentCode, map[string]any{"module_base64": "AGFzbQ=="}, nil)
	if !res.IsError || !strings.Contains(text(res), "sandbox is disabled") {
		t.Errorf("execute without runner: isError=%v %q", res.IsError, text(res))
	}

	want := []string{"agent-7 delete_episode refused", "agent-7 execute_agent_code refused"}
	if diff := cmp.Diff(want, aud.events); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"agent-7 delete_episode", "agent-7 execute_agent_code"}, seen); diff != "" {
		t.Errorf("MCP middleware saw (-want +got):\n%s", diff)
	}
}

func TestReadiness(t *testing.T) {
	srv, _ := startHTTP(t, server.Options{ReadinessChecks: []server.Check{{Name: "config",
		Check: func(context.Context) error { return nil }}}})
	ops := httptest.NewServer(srv.OpsHandler())
	t.Cleanup(ops.Close)
	tests := []struct {
		path string
		want int
	}{{"/healthz", 200}, {"/readyz", 200}, {"/metrics", 200}}
	for _, tt := range tests {
		resp, err := http.Get(ops.URL + tt.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}

	srv.Readiness().Add(server.Check{Name: "config",
		Check: func(context.Context) error { return context.DeadlineExceeded }})
	resp, err := http.Get(ops.URL + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with a failing check = %d, want 503", resp.StatusCode)
	}
}
