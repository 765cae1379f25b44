// Package server wires the memory tools into an MCP server reachable over
// streamable HTTP or stdio, with health, readiness and metrics endpoints.
//
// It is also where the security layers plug in: see Options.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memorymcp/memory-mcp-operator/internal/engine"
	"github.com/memorymcp/memory-mcp-operator/internal/mcptools"
)

// Options configure a Server. Engine is required; everything else has a
// working default.
type Options struct {
	Engine *engine.Engine
	Logger *slog.Logger
	// Version is reported to clients in the initialize result.
	Version string

	// HTTPMiddleware wraps the /mcp handler, outermost first: the first
	// element sees a request before the others. Authentication puts the
	// caller into the request context with identity.WithClient, and every
	// tool handler sees it there.
	HTTPMiddleware []func(http.Handler) http.Handler
	// MCPMiddleware is added with AddReceivingMiddleware, outermost first;
	// it sees every JSON-RPC request, including tools/call with its tool
	// name, after HTTPMiddleware.
	MCPMiddleware []mcp.Middleware

	// Auditor records audited tool calls; defaults to discarding them.
	Auditor mcptools.Auditor
	// Runner executes agent code; nil disables execute_agent_code.
	Runner mcptools.CodeRunner

	// Gatherer backs /metrics; the server registers nothing itself, the
	// security layers own the per-tool metrics. When nil, a fresh registry
	// with Go and process collectors is used.
	Gatherer prometheus.Gatherer

	// MaxRequestBodyBytes bounds /mcp request bodies after HTTPMiddleware;
	// zero keeps the SDK default of 4 MiB and a negative value lifts the
	// bound, for middleware that enforces its own limit, which may change
	// while the server runs.
	MaxRequestBodyBytes int64

	// Routes are served on the MCP listener next to /mcp, outside
	// HTTPMiddleware: public documents such as OAuth protected resource
	// metadata, which clients read before they hold a token.
	Routes map[string]http.Handler

	// ReadinessChecks are added to the built-in "storage" check.
	ReadinessChecks []Check
}

// Server is a memory MCP server.
type Server struct {
	mcp       *mcp.Server
	tools     *mcptools.Toolset
	log       *slog.Logger
	opts      Options
	readiness *Readiness
	gatherer  prometheus.Gatherer
}

// New builds a server from opts.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil {
		return nil, errors.New("server: Options.Engine is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	gath := opts.Gatherer
	if gath == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		gath = r
	}
	s := &Server{log: opts.Logger, opts: opts, readiness: NewReadiness(), gatherer: gath}
	s.readiness.Add(Check{Name: "storage", Check: opts.Engine.Store().Ping})
	for _, c := range opts.ReadinessChecks {
		s.readiness.Add(c)
	}

	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "memory-mcp-server", Version: opts.Version},
		&mcp.ServerOptions{Logger: opts.Logger, Instructions: instructions})
	tools, err := mcptools.Register(s.mcp, mcptools.Deps{
		Engine: opts.Engine, Auditor: opts.Auditor, Runner: opts.Runner,
		Health: s.readiness.Run, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("registering tools: %w", err)
	}
	s.tools = tools
	if len(opts.MCPMiddleware) > 0 {
		s.mcp.AddReceivingMiddleware(opts.MCPMiddleware...)
	}
	return s, nil
}

const instructions = "Episodic memory for agents. Before a task, call query_memory and " +
	"recommend_patterns. While working, record the attempt: create_episode, then " +
	"add_episode_step for each tool call, then complete_episode with the outcome."

// MCP returns the underlying SDK server, e.g. to add more middleware.
func (s *Server) MCP() *mcp.Server { return s.mcp }

// Tools returns the toolset, to hide and show tools while running.
func (s *Server) Tools() *mcptools.Toolset { return s.tools }

// Readiness returns the readiness checks, to add more while running.
func (s *Server) Readiness() *Readiness { return s.readiness }

// SetDisabledTools hides exactly the named tools from tools/list and
// tools/call; connected sessions get a list-changed notification.
func (s *Server) SetDisabledTools(names []string) { s.tools.SetDisabled(names) }

// MCPHandler serves MCP over streamable HTTP, wrapped in HTTPMiddleware.
//
// Note: the handler is stateless, so any replica behind a Service can
// answer any request: there is no session to find, and server-to-client
// requests (sampling, elicitation), which these tools never make, are not
// available.
func (s *Server) MCPHandler() http.Handler {
	var h http.Handler = mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return s.mcp },
		&mcp.StreamableHTTPOptions{Stateless: true, Logger: s.log,
			MaxRequestBodyBytes: s.opts.MaxRequestBodyBytes})
	for i := len(s.opts.HTTPMiddleware) - 1; i >= 0; i-- {
		h = s.opts.HTTPMiddleware[i](h)
	}
	return h
}

// OpsHandler serves /healthz, /readyz and /metrics.
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", s.readiness)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	return mux
}

// Run serves MCP over transport until ctx ends or the peer disconnects.
func (s *Server) Run(ctx context.Context, t mcp.Transport) error {
	return s.mcp.Run(ctx, t)
}
