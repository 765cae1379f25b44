package server_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/security"
	"github.com/memorymcp/memory-mcp-operator/internal/server"
)

const benchToken = "mmcp_bench_writer"

// BenchmarkSecuredCall measures the security layers on the server's own
// tools over SQLite, the cost a deployed server pays per call: the same
// call with and without the layers (input limits, blocklist, bearer token,
// scope, rate limit, metrics, an audit line to a discarding writer).
func BenchmarkSecuredCall(b *testing.B) {
	for _, tool := range []string{"create_episode", "query_memory"} {
		for _, secured := range []bool{false, true} {
			name := tool + "/unsecured"
			if secured {
				name = tool + "/secured"
			}
			b.Run(name, func(b *testing.B) { benchSecuredCall(b, tool, secured) })
		}
	}
}

func benchSecuredCall(b *testing.B, tool string, secured bool) {
	var opts server.Options
	var client *http.Client
	if secured {
		l := benchLayers(b)
		opts.HTTPMiddleware = []func(http.Handler) http.Handler{l.HTTPMiddleware()}
		opts.MCPMiddleware = []mcp.Middleware{l.MCPMiddleware()}
		opts.MaxRequestBodyBytes = -1
		client = &http.Client{Transport: bearerTransport(benchToken)}
	}
	_, url := startHTTP(b, opts)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(b.Context(),
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: client}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })

	// A thousand episodes give query_memory a corpus to rank.
	for i := range 1000 {
		mustCall(b, cs, "create_episode", map[string]any{
			"task_description": fmt.Sprintf("task %d about topic%d and area%d", i, i%50, i%7)}, nil)
	}
	i := 0
	for b.Loop() {
		args := map[string]any{"task_description": "benchmark task"}
		if tool == "query_memory" {
			args = map[string]any{"query": fmt.Sprintf("topic%d area%d", i%50, i%7)}
		}
		mustCall(b, cs, tool, args, nil)
		i++
	}
}

func benchLayers(b *testing.B) *security.Layers {
	b.Helper()
	l, err := security.NewLayers(b.Context(), security.Options{AuditStdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })

	// Limits high enough that the benchmark never waits on a bucket, while
	// every call still takes a token from one.
	cfg := runtimeconfig.Default()
	cfg.RateLimits.Read = runtimeconfig.Bucket{RequestsPerSecond: 1e9, Burst: 1 << 30}
	cfg.RateLimits.Write = runtimeconfig.Bucket{RequestsPerSecond: 1e9, Burst: 1 << 30}
	if err := l.Apply(cfg); err != nil {
		b.Fatal(err)
	}
	l.ApplyCredentials(&runtimeconfig.Credentials{SchemaVersion: runtimeconfig.SchemaVersion,
		Clients: []runtimeconfig.ClientCredentials{{Name: "writer",
			Scopes: []string{identity.ScopeRead, identity.ScopeWrite},
			Tokens: []runtimeconfig.TokenHash{{SHA256: runtimeconfig.HashToken(benchToken)}}}}})
	return l
}

type bearerTransport string

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(t))
	return http.DefaultTransport.RoundTrip(r)
}
