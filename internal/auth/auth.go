package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// MetadataPath is where RFC 9728 protected resource metadata is served.
const MetadataPath = "/.well-known/oauth-protected-resource"

// Options configure an Authenticator.
type Options struct {
	// Auditor records every authentication failure.
	Auditor audit.Auditor
	// ResourceURL is the server's public MCP endpoint, named in the
	// protected resource metadata.
	ResourceURL string
	// MetadataURL is the public URL of MetadataPath, sent in the
	// WWW-Authenticate challenge.
	MetadataURL string
	// HTTPClient fetches JWKS; defaults to a client with a 10s timeout.
	HTTPClient *http.Client
	// JWKSMinRefresh is the least time between two JWKS fetches; defaults
	// to 30s.
	JWKSMinRefresh time.Duration
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Authenticator verifies credentials against the live credentials
// document and OAuth settings.
type Authenticator struct {
	opts   Options
	tokens atomic.Pointer[tokenTable]
	oidc   atomic.Pointer[jwtVerifier]
}

// New returns an authenticator that accepts nothing until credentials or
// OAuth settings are applied.
func New(opts Options) *Authenticator {
	if opts.Auditor == nil {
		opts.Auditor = audit.Discard
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.JWKSMinRefresh == 0 {
		opts.JWKSMinRefresh = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &Authenticator{opts: opts}
	a.tokens.Store(newTokenTable(nil))
	return a
}

// ApplyCredentials replaces the accepted bearer token hashes.
func (a *Authenticator) ApplyCredentials(c *runtimeconfig.Credentials) {
	a.tokens.Store(newTokenTable(c))
}

// ApplyConfig sets the OAuth issuer. The JWKS cache is kept when the
// issuer settings did not change.
func (a *Authenticator) ApplyConfig(cfg runtimeconfig.Auth) {
	if cfg.OIDC == nil {
		a.oidc.Store(nil)
		return
	}
	if cur := a.oidc.Load(); cur != nil && cur.cfg == *cfg.OIDC {
		return
	}
	a.oidc.Store(&jwtVerifier{cfg: *cfg.OIDC, now: a.opts.Now, keys: &jwksCache{
		url: cfg.OIDC.JWKSURL, client: a.opts.HTTPClient, minRefresh: a.opts.JWKSMinRefresh,
		maxAge: time.Hour, now: a.opts.Now,
	}})
}

// Verify authenticates a presented token. Tokens with the operator's prefix
// are bearer tokens; anything else is treated as an OAuth access token.
func (a *Authenticator) Verify(ctx context.Context, token string) (*identity.Client, time.Time, error) {
	if strings.HasPrefix(token, runtimeconfig.TokenPrefix) {
		return a.tokens.Load().lookup(token, a.opts.Now())
	}
	v := a.oidc.Load()
	if v == nil {
		return nil, time.Time{}, &Error{Reason: "unknown bearer token"}
	}
	return v.verify(ctx, token)
}

// Middleware authenticates every request, answering 401 with a
// WWW-Authenticate challenge that points at the resource metadata, and
// puts the client on the context for the next layers.
func (a *Authenticator) Middleware() func(http.Handler) http.Handler {
	require := sdkauth.RequireBearerToken(a.verifier, &sdkauth.RequireBearerTokenOptions{
		ResourceMetadataURL: a.opts.MetadataURL,
		// Operator-issued tokens carry no expiry; access tokens are checked
		// for one by the JWT verifier.
		AllowMissingExpiration: true,
		// The SDK checks the expiry again; with the verifier's leeway it
		// refuses nothing the verifier accepted, so every refusal is audited.
		ClockSkew: leeway,
	})
	return func(next http.Handler) http.Handler {
		withIdentity := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := ClientFromTokenInfo(sdkauth.TokenInfoFromContext(r.Context()))
			next.ServeHTTP(w, r.WithContext(identity.WithClient(r.Context(), c)))
		})
		inner := require(withIdentity)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hasBearer(r) {
				a.auditFailure(r, &Error{Reason: "no bearer token"})
			}
			inner.ServeHTTP(w, r)
		})
	}
}

// verifier adapts Verify to the SDK, which binds MCP sessions to UserID so
// one client cannot resume another's session.
func (a *Authenticator) verifier(ctx context.Context, token string, r *http.Request) (*sdkauth.TokenInfo, error) {
	c, exp, err := a.Verify(ctx, token)
	if err != nil {
		a.auditFailure(r, err)
		return nil, err
	}
	c.Source = RemoteAddr(r)
	return &sdkauth.TokenInfo{Scopes: c.Scopes, Expiration: exp, UserID: c.ID,
		Extra: map[string]any{clientExtraKey: c}}, nil
}

const clientExtraKey = "memory_mcp_client"

// ClientFromTokenInfo returns the client the authenticator stored in the
// SDK's token info, which MCP handlers receive in RequestExtra.
func ClientFromTokenInfo(ti *sdkauth.TokenInfo) *identity.Client {
	if ti == nil {
		return nil
	}
	c, _ := ti.Extra[clientExtraKey].(*identity.Client)
	return c
}

func (a *Authenticator) auditFailure(r *http.Request, err error) {
	md := map[string]any{"reason": err.Error(), "remote_addr": RemoteAddr(r).String(),
		"path": r.URL.Path}
	if e := (*Error)(nil); errors.As(err, &e) && e.Method != "" {
		md["method"] = e.Method
	}
	a.opts.Auditor.Record(r.Context(), audit.Event{Level: audit.LevelWarn,
		Operation: audit.OpAuthentication, Result: audit.ResultFailure, Metadata: md})
}

func hasBearer(r *http.Request) bool {
	f := strings.Fields(r.Header.Get("Authorization"))
	return len(f) == 2 && strings.EqualFold(f[0], "bearer")
}

// RemoteAddr is the connection's peer address. X-Forwarded-For is never
// consulted: any client can write it.
func RemoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}

// MetadataHandler serves RFC 9728 protected resource metadata, naming the
// current OAuth issuer when one is configured.
func (a *Authenticator) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		md := &oauthex.ProtectedResourceMetadata{
			Resource:               a.opts.ResourceURL,
			ScopesSupported:        []string{identity.ScopeRead, identity.ScopeWrite},
			BearerMethodsSupported: []string{"header"},
		}
		if v := a.oidc.Load(); v != nil {
			md.AuthorizationServers = []string{v.cfg.Issuer}
		}
		sdkauth.ProtectedResourceMetadataHandler(md).ServeHTTP(w, r)
	})
}
