package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// recorder is an in-memory Auditor.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(_ context.Context, e audit.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func TestBearerTokens(t *testing.T) {
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	creds := &runtimeconfig.Credentials{SchemaVersion: runtimeconfig.SchemaVersion, Clients: []runtimeconfig.ClientCredentials{
		{Name: "agent-a", Scopes: []string{identity.ScopeRead}, Tokens: []runtimeconfig.TokenHash{
			{SHA256: runtimeconfig.HashToken("mmcp_current")},
			{SHA256: runtimeconfig.HashToken("mmcp_previous"), NotAfter: &future},
			{SHA256: runtimeconfig.HashToken("mmcp_expired"), NotAfter: &past},
		}},
	}}
	tests := []struct {
		token, wantID, wantErr string
	}{
		{"mmcp_current", "agent-a", ""},
		{"mmcp_previous", "agent-a", ""},
		{"mmcp_expired", "", "grace period ended"},
		{"mmcp_unknown", "", "unknown bearer token"},
		{"not-a-jwt", "", "unknown bearer token"},
	}
	a := New(Options{Now: clock})
	a.ApplyCredentials(creds)
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			c, _, err := a.Verify(context.Background(), tt.token)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Verify() error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&identity.Client{ID: tt.wantID, Scopes: []string{identity.ScopeRead},
				Method: "token"}, c, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("client (-want +got):\n%s", diff)
			}
		})
	}
}

// issuer is a test OAuth issuer serving its JWKS.
type issuer struct {
	key     *rsa.PrivateKey
	kid     string
	fetches atomic.Int32
	srv     *httptest.Server
	mu      sync.Mutex
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key, kid: "k1"}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: string(jose.RS256), Use: "sig"}}})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) rotate(t *testing.T, kid string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.key, is.kid = key, kid
}

func (is *issuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	is.mu.Lock()
	defer is.mu.Unlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: is.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (is *issuer) config() runtimeconfig.Auth {
	return runtimeconfig.Auth{OIDC: &runtimeconfig.OIDC{Issuer: "https://issuer.example",
		Audience: "memory-mcp", JWKSURL: is.srv.URL, ClientIDClaim: "client_id"}}
}

func goodClaims() map[string]any {
	return map[string]any{"iss": "https://issuer.example", "aud": "memory-mcp", "client_id": "agent-o",
		"scope": "mcp:read mcp:write", "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix()}
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	if v == nil {
		delete(m, k)
	}
	return m
}

func TestAccessTokens(t *testing.T) {
	is := newIssuer(t)
	a := New(Options{Now: clock})
	a.ApplyConfig(is.config())

	tests := []struct {
		name    string
		token   func() string
		wantErr string
	}{
		{"valid", func() string { return is.sign(t, goodClaims()) }, ""},
		{"expired", func() string { return is.sign(t, with(goodClaims(), "exp", now.Add(-time.Hour).Unix())) }, "expired"},
		{"no expiry", func() string { return is.sign(t, with(goodClaims(), "exp", nil)) }, "no expiry"},
		{"not yet valid", func() string { return is.sign(t, with(goodClaims(), "nbf", now.Add(time.Hour).Unix())) }, "not valid yet"},
		{"other issuer", func() string { return is.sign(t, with(goodClaims(), "iss", "https://evil.example")) }, "issuer"},
		{"other audience", func() string { return is.sign(t, with(goodClaims(), "aud", "other-api")) }, "audience"},
		{"no client id", func() string { return is.sign(t, with(goodClaims(), "client_id", nil)) }, "client_id"},
		{"alg none", func() string { return unsigned(goodClaims()) }, "refused algorithm"},
		{"HS256 keyed with the RSA public key", func() string { return hmacWithPublicKey(t, is, goodClaims()) }, "refused algorithm"},
		{"tampered payload", func() string { return tamper(is.sign(t, goodClaims())) }, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, exp, err := a.Verify(context.Background(), tt.token())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := &identity.Client{ID: "agent-o", Scopes: []string{"mcp:read", "mcp:write"}, Method: "oauth"}
				if diff := cmp.Diff(want, c, cmpopts.EquateComparable(netip.Addr{})); diff != "" || !exp.Equal(now.Add(time.Hour)) {
					t.Errorf("client (-want +got):\n%s; expiry %v", diff, exp)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Verify() error = %v, want an *Error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestJWKSRefreshOnUnknownKeyIsRateLimited(t *testing.T) {
	is := newIssuer(t)
	cur := now
	a := New(Options{Now: func() time.Time { return cur }, JWKSMinRefresh: time.Minute})
	a.ApplyConfig(is.config())
	if _, _, err := a.Verify(context.Background(), is.sign(t, goodClaims())); err != nil {
		t.Fatal(err)
	}

	// The issuer rotates its key: the first token with the new key ID
	// refreshes the cache only once the minimum interval passed.
	is.rotate(t, "k2")
	tok := is.sign(t, goodClaims())
	cur = cur.Add(time.Second)
	for range 5 {
		if _, _, err := a.Verify(context.Background(), tok); err == nil {
			t.Fatal("token with a key fetched too recently to refresh was accepted")
		}
	}
	cur = cur.Add(time.Minute)
	if _, _, err := a.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after the refresh interval: %v", err)
	}
	if got := is.fetches.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
}

func unsigned(claims map[string]any) string {
	hdr, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body) + "."
}

// hmacWithPublicKey forges a token the classic way: HS256 with the issuer's
// public key, which anyone can download, as the HMAC secret.
func hmacWithPublicKey(t *testing.T, is *issuer, claims map[string]any) string {
	der, err := x509.MarshalPKIXPublicKey(&is.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: der},
		(&jose.SignerOptions{}).WithHeader("kid", is.kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	var claims map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(b, &claims)
	claims["client_id"] = "admin"
	b, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestMiddleware(t *testing.T) {
	rec := &recorder{}
	a := New(Options{Auditor: rec, Now: clock, MetadataURL: "https://mcp.example/.well-known/oauth-protected-resource"})
	a.ApplyCredentials(&runtimeconfig.Credentials{SchemaVersion: runtimeconfig.SchemaVersion,
		Clients: []runtimeconfig.ClientCredentials{{Name: "agent-a", Scopes: []string{identity.ScopeRead},
			Tokens: []runtimeconfig.TokenHash{{SHA256: runtimeconfig.HashToken("mmcp_good")}}}}})
	var seen *identity.Client
	h := a.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = identity.FromContext(r.Context())
	}))

	tests := []struct {
		name, header string
		wantCode     int
		wantClient   string
		wantAudits   int
	}{
		{"no token", "", 401, "", 1},
		{"basic auth", "Basic YTpi", 401, "", 1},
		{"unknown token", "Bearer mmcp_bad", 401, "", 1},
		{"good token", "Bearer mmcp_good", 200, "agent-a", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.events, seen = nil, nil
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.RemoteAddr = "10.1.2.3:5555"
			req.Header.Set("X-Forwarded-For", "192.0.2.1")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantCode)
			}
			if len(rec.events) != tt.wantAudits {
				t.Errorf("audited %d events, want %d", len(rec.events), tt.wantAudits)
			}
			if tt.wantCode == 401 {
				if got := w.Header().Get("WWW-Authenticate"); !strings.Contains(got, `resource_metadata="https://mcp.example/`) {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				e := rec.events[0]
				if e.Operation != audit.OpAuthentication || e.Result != audit.ResultFailure ||
					e.Metadata["remote_addr"] != "10.1.2.3" {
					t.Errorf("audit event = %+v", e)
				}
				return
			}
			if seen == nil || seen.ID != tt.wantClient || seen.Source.String() != "10.1.2.3" {
				t.Errorf("client on context = %+v", seen)
			}
		})
	}
}

func TestMetadataHandler(t *testing.T) {
	is := newIssuer(t)
	a := New(Options{ResourceURL: "https://mcp.example/mcp"})
	a.ApplyConfig(is.config())
	w := httptest.NewRecorder()
	a.MetadataHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, MetadataPath, nil))
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"resource": "https://mcp.example/mcp",
		"authorization_servers": []any{"https://issuer.example"}, "scopes_supported": []any{"mcp:read", "mcp:write"},
		"bearer_methods_supported": []any{"header"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

// TestJWKSFetchOutlivesTheCaller presents the first access token on a
// request whose client already hung up: the key set is still fetched, so
// the next caller is not refused for the whole refresh interval because
// one request went away mid-fetch.
func TestJWKSFetchOutlivesTheCaller(t *testing.T) {
	is := newIssuer(t)
	a := New(Options{Now: clock, JWKSMinRefresh: time.Hour})
	a.ApplyConfig(is.config())
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	tok := is.sign(t, goodClaims())
	_, _, _ = a.Verify(gone, tok) // its outcome does not matter: the caller left
	if _, _, err := a.Verify(context.Background(), tok); err != nil {
		t.Errorf("valid token after a cancelled first fetch: %v", err)
	}
}
