// Package identity carries the authenticated caller of the memory server
// through a request's context.
//
// The identity is set once, by the authentication layer, from the credential
// the caller presented. Nothing else (request bodies, MCP _meta fields) may
// set or change it, so every later layer — scopes, rate limits, blocklists,
// audit — reads the same answer.
package identity

import (
	"context"
	"net/netip"
	"slices"
)

// Scopes a client may hold.
const (
	ScopeRead  = "mcp:read"
	ScopeWrite = "mcp:write"
)

// Client is an authenticated caller.
type Client struct {
	// ID is the client's name as declared in the MemoryMCP resource, or the
	// value of the configured client-id claim of an OAuth access token.
	ID string
	// Scopes granted to the credential.
	Scopes []string
	// Source is the remote address of the connection, when known.
	Source netip.Addr
	// Method tells how the client authenticated: "token", "oauth", or
	// "local" for the stdio transport, which trusts its parent process.
	Method string
}

// HasScope reports whether the client holds scope.
func (c *Client) HasScope(scope string) bool {
	return c != nil && slices.Contains(c.Scopes, scope)
}

type contextKey struct{}

// WithClient returns a context carrying c.
func WithClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, contextKey{}, c)
}

// FromContext returns the client carried by ctx, or nil when the request is
// unauthenticated.
func FromContext(ctx context.Context) *Client {
	c, _ := ctx.Value(contextKey{}).(*Client)
	return c
}

// ClientID returns the ID of the client carried by ctx, or "anonymous".
func ClientID(ctx context.Context) string {
	if c := FromContext(ctx); c != nil && c.ID != "" {
		return c.ID
	}
	return "anonymous"
}
