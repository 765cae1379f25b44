package security

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

func benchLayers(b *testing.B) *Layers {
	b.Helper()
	l, err := NewLayers(b.Context(), Options{AuditStdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	cfg := runtimeconfig.Default()
	cfg.RateLimits.Write = runtimeconfig.Bucket{RequestsPerSecond: 1e9, Burst: 1 << 30}
	if err := l.Apply(cfg); err != nil {
		b.Fatal(err)
	}
	l.ApplyCredentials(testCredentials())
	return l
}

// BenchmarkToolCall compares a write tool call over streamable HTTP with the
// SDK client, with and without the layers (auth, limits, rate limit, audit
// to a discarding writer). The difference per call is the layers' cost.
func BenchmarkToolCall(b *testing.B) {
	for _, secured := range []bool{false, true} {
		name := "unsecured"
		if secured {
			name = "secured"
		}
		b.Run(name, func(b *testing.B) {
			l := benchLayers(b)
			s := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "v0"}, nil)
			mcp.AddTool(s, &mcp.Tool{Name: "delete_episode"},
				func(context.Context, *mcp.CallToolRequest, echo) (*mcp.CallToolResult, echo, error) {
					return nil, echo{Text: "ok"}, nil
				})
			var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
				&mcp.StreamableHTTPOptions{JSONResponse: true})
			if secured {
				s.AddReceivingMiddleware(l.MCPMiddleware())
				h = l.HTTPMiddleware()(h)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(b.Context(),
				&mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: &http.Client{Transport: bearer{writerToken}}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer cs.Close()
			params := &mcp.CallToolParams{Name: "delete_episode", Arguments: map[string]any{"text": "x"}}
			for b.Loop() {
				if _, err := cs.CallTool(b.Context(), params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHTTPMiddleware is the layers' own cost on one request, without
// the network or the MCP server: input scan, blocklist, token check, scope,
// rate limit.
func BenchmarkHTTPMiddleware(b *testing.B) {
	l := benchLayers(b)
	h := l.HTTPMiddleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_episode",` +
		`"arguments":{"task":"summarise the incident report","context":{"domain":"ops","tags":["a","b"]}}}}`
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+writerToken)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
