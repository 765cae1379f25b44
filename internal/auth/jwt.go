package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// allowedAlgorithms are the asymmetric algorithms accepted. Listing them is
// what refuses "none" and the HMAC algorithms, so a public key published in
// the JWKS can never be used as an HMAC secret.
var allowedAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// leeway tolerates clock skew between the issuer and this server.
const leeway = 30 * time.Second

// jwtVerifier checks access tokens from one issuer.
type jwtVerifier struct {
	cfg  runtimeconfig.OIDC
	keys *jwksCache
	now  func() time.Time
}

func (v *jwtVerifier) verify(ctx context.Context, raw string) (*identity.Client, time.Time, error) {
	tok, err := jwt.ParseSigned(raw, allowedAlgorithms)
	if err != nil {
		return nil, time.Time{}, &Error{Reason: "access token is malformed or uses a refused algorithm", Method: "oauth"}
	}
	hdr := tok.Headers[0]
	key, err := v.keys.key(ctx, hdr.KeyID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if key.Algorithm != "" && key.Algorithm != hdr.Algorithm {
		return nil, time.Time{}, &Error{Reason: "access token algorithm does not match its key", Method: "oauth"}
	}

	var std jwt.Claims
	var extra map[string]any
	if err := tok.Claims(key.Key, &std, &extra); err != nil {
		return nil, time.Time{}, &Error{Reason: "access token signature is invalid", Method: "oauth"}
	}
	if err := v.checkClaims(std); err != nil {
		return nil, time.Time{}, err
	}
	id, _ := extra[v.cfg.ClientIDClaim].(string)
	if id == "" {
		return nil, time.Time{}, &Error{Reason: fmt.Sprintf("access token has no %q claim", v.cfg.ClientIDClaim),
			Method: "oauth"}
	}
	return &identity.Client{ID: id, Scopes: scopes(extra), Method: "oauth"}, std.Expiry.Time(), nil
}

func (v *jwtVerifier) checkClaims(c jwt.Claims) error {
	if c.Expiry == nil {
		return &Error{Reason: "access token has no expiry", Method: "oauth"}
	}
	err := c.ValidateWithLeeway(jwt.Expected{
		Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.now(),
	}, leeway)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrExpired):
		return &Error{Reason: "access token expired", Method: "oauth"}
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return &Error{Reason: "access token is not valid yet", Method: "oauth"}
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return &Error{Reason: "access token issuer is not trusted", Method: "oauth"}
	case errors.Is(err, jwt.ErrInvalidAudience):
		return &Error{Reason: "access token audience is not this server", Method: "oauth"}
	}
	return &Error{Reason: "access token claims are invalid", Method: "oauth"}
}

// scopes reads "scope" (space-separated, RFC 8693) or "scp" (a list).
func scopes(claims map[string]any) []string {
	if s, ok := claims["scope"].(string); ok {
		return strings.Fields(s)
	}
	var out []string
	if list, ok := claims["scp"].([]any); ok {
		for _, e := range list {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// jwksCache holds the issuer's keys. An unknown key ID triggers a refresh,
// at most once per minRefresh, so tokens with made-up key IDs cannot make
// the server hammer the issuer.
//
// The fetch runs without c.mu held and at most one at a time: tokens signed
// with a cached key are verified while a slow issuer is asked for new keys,
// and callers that need the new keys wait for the fetch already running.
type jwksCache struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	maxAge     time.Duration
	now        func() time.Time

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetched time.Time
	// inflight is the running fetch; nil when none runs.
	inflight *jwksFetch
}

// jwksFetch is one fetch of the key set; err is set before done is closed.
type jwksFetch struct {
	done chan struct{}
	err  error
}

func (c *jwksCache) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	c.mu.Lock()
	if k := c.find(kid); k != nil && c.now().Sub(c.fetched) < c.maxAge {
		c.mu.Unlock()
		return k, nil
	}
	f, start := c.inflight, false
	if f == nil && (c.fetched.IsZero() || c.now().Sub(c.fetched) >= c.minRefresh) {
		c.fetched = c.now() // a failed fetch counts too, for the rate limit
		f, start = &jwksFetch{done: make(chan struct{})}, true
		c.inflight = f
	}
	c.mu.Unlock()

	if start {
		c.refresh(ctx, f)
	}
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the issuer's keys: %w", ctx.Err())
		}
		if f.err != nil {
			return nil, fmt.Errorf("fetching the issuer's keys: %w", f.err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.find(kid); k != nil {
		return k, nil
	}
	return nil, &Error{Reason: "access token is signed with an unknown key", Method: "oauth"}
}

func (c *jwksCache) find(kid string) *jose.JSONWebKey {
	for i := range c.set.Keys {
		k := &c.set.Keys[i]
		if (kid == "" || k.KeyID == kid) && k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			return k
		}
	}
	return nil
}

// refresh runs fetch f, stores the keys it got and ends f, waking the
// callers that wait for it.
func (c *jwksCache) refresh(ctx context.Context, f *jwksFetch) {
	set, err := c.fetch(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.set = set
	}
	f.err = err
	c.inflight = nil
	close(f.done)
}

// fetch downloads the key set. The fetch is not cancelled with the request
// that asked for it: a failed fetch holds back the next for minRefresh, so
// a client hanging up mid-fetch, on purpose or not, would otherwise keep
// every token of a rotated key refused.
func (c *jwksCache) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	defer resp.Body.Close() //nolint:errcheck // read-only
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("JWKS endpoint answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("decoding JWKS: %w", err)
	}
	return set, nil
}
