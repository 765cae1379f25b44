package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
)

// ShutdownTimeout bounds how long in-flight calls may run after a stop.
const ShutdownTimeout = 30 * time.Second

// Timeouts of both listeners. A request, body included, must arrive within
// readTimeout, so a client trickling a body cannot hold a connection and
// its buffer for long; the largest body the sandbox admits (a base64
// module) still arrives at about 250 KB/s. Responses have no write
// timeout: a tool call may run as long as its own limits allow.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	idleTimeout       = 2 * time.Minute
)

// ServeHTTP serves MCP on mcpLn and the ops endpoints on opsLn until ctx
// ends, then stops accepting and waits for in-flight calls to finish.
func (s *Server) ServeHTTP(ctx context.Context, mcpLn, opsLn net.Listener) error {
	mcpMux := http.NewServeMux()
	mcpMux.Handle("/mcp", s.MCPHandler())
	for pattern, h := range s.opts.Routes {
		mcpMux.Handle(pattern, h)
	}
	servers := []*http.Server{newHTTPServer(mcpMux), newHTTPServer(s.OpsHandler())}
	errc := make(chan error, 2)
	for i, ln := range []net.Listener{mcpLn, opsLn} {
		go func() { errc <- servers[i].Serve(ln) }()
	}
	s.log.Info("serving", "mcp_addr", mcpLn.Addr().String(), "ops_addr", opsLn.Addr().String())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("shutting down", "timeout_s", ShutdownTimeout.Seconds())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	errs := []error{serveErr}
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(sctx))
	}
	err := errors.Join(errs...)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// LocalClient is the identity of the stdio transport's peer: the process
// that started the server, trusted with read and write.
var LocalClient = identity.Client{ID: "local", Method: "local",
	Scopes: []string{identity.ScopeRead, identity.ScopeWrite}}

// ServeStdio serves one MCP session over t, as LocalClient.
func (s *Server) ServeStdio(ctx context.Context, t mcp.Transport) error {
	client := LocalClient
	ctx = identity.WithClient(ctx, &client)
	s.mcp.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			return next(identity.WithClient(ctx, &client), method, req)
		}
	})
	if err := s.mcp.Run(ctx, t); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serving stdio: %w", err)
	}
	return nil
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		IdleTimeout: idleTimeout}
}
