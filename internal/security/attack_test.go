package security

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// TestToolNameDecoderDifferential sends bodies that encoding/json and the
// SDK's case-sensitive decoder read as different tools. The HTTP layer must
// not let its checks of one tool stand for the call of the other: a
// read-only client stays refused the write tool, and a write counts in the
// write bucket.
func TestToolNameDecoderDifferential(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"second key in another case", `{"jsonrpc":"2.0","id":3,"method":"tools/call",` +
			`"params":{"name":"delete_episode","arguments":{},"NAME":"query_memory"}}`},
		{"params object in another case", `{"jsonrpc":"2.0","id":3,"method":"tools/call",` +
			`"params":{"name":"delete_episode","arguments":{}},"Params":{"name":"query_memory"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigConfig(), testCredentials())
			w := r.post(readerToken, tt.body, nil)

			want := `{"jsonrpc":"2.0","id":3,"error":{"code":-32030,"message":"tool \"delete_episode\" ` +
				`needs scope \"mcp:write\", which this credential does not hold"}}`
			if got := strings.TrimSpace(w.Body.String()); w.Code != http.StatusOK || got != want {
				t.Errorf("got %d %s, want 200 %s", w.Code, w.Body, want)
			}
			if diff := cmp.Diff([]toolSeen(nil), r.seen()); diff != "" {
				t.Errorf("tool handlers ran (-want +got):\n%s", diff)
			}
		})
	}
}

// testIssuer is an OAuth issuer serving one RSA key as its JWKS.
type testIssuer struct {
	key     *rsa.PrivateKey
	fetches atomic.Int32
	url     string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{key: key}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		is.fetches.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: string(jose.RS256), Use: "sig"}}})
	}))
	t.Cleanup(srv.Close)
	is.url = srv.URL
	return is
}

// sign returns a compact JWT of claims signed with key under kid.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestAccessTokenAttacks presents forged and invalid access tokens through
// the assembled HTTP middleware: each is refused with 401 and audited as an
// authentication failure, and no tool runs.
func TestAccessTokenAttacks(t *testing.T) {
	is := newTestIssuer(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&is.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	cfg := rigConfig()
	cfg.Auth.OIDC = &runtimeconfig.OIDC{Issuer: "https://issuer.example", Audience: "memory-mcp",
		JWKSURL: is.url, ClientIDClaim: "client_id"}
	claims := func(now time.Time, edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://issuer.example", "aud": "memory-mcp", "client_id": "oauth-reader",
			"scope": "mcp:read", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }

	tests := []struct {
		name    string
		token   func(now time.Time) string
		reason  string // empty: accepted
		fetches int32
	}{
		{"valid token", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, nil))
		}, "", 1},
		{"expired within the leeway", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, set("exp", now.Add(-10*time.Second).Unix())))
		}, "", 1},
		{"alg none", func(now time.Time) string {
			return b64(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}) + "." + b64(claims(now, nil)) + "."
		}, "access token is malformed or uses a refused algorithm", 0},
		{"HS256 keyed with the issuer's public key", func(now time.Time) string {
			return sign(t, jose.HS256, pubPEM, "k1", claims(now, nil))
		}, "access token is malformed or uses a refused algorithm", 0},
		{"expired", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, set("exp", now.Add(-time.Hour).Unix())))
		}, "access token expired", 1},
		{"no expiry", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, func(c map[string]any) { delete(c, "exp") }))
		}, "access token has no expiry", 1},
		{"not valid yet", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, set("nbf", now.Add(time.Hour).Unix())))
		}, "access token is not valid yet", 1},
		{"wrong audience", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, set("aud", "another-server")))
		}, "access token audience is not this server", 1},
		{"wrong issuer", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, set("iss", "https://evil.example")))
		}, "access token issuer is not trusted", 1},
		{"unknown key ID after a refresh", func(now time.Time) string {
			return sign(t, jose.RS256, other, "k9", claims(now, nil))
		}, "access token is signed with an unknown key", 1},
		{"known key ID, another key", func(now time.Time) string {
			return sign(t, jose.RS256, other, "k1", claims(now, nil))
		}, "access token signature is invalid", 1},
		{"tampered payload", func(now time.Time) string {
			parts := strings.Split(sign(t, jose.RS256, is.key, "k1", claims(now, nil)), ".")
			parts[1] = b64(claims(now, func(c map[string]any) {
				c["client_id"], c["scope"] = "writer", "mcp:read mcp:write"
			}))
			return strings.Join(parts, ".")
		}, "access token signature is invalid", 1},
		{"no client ID claim", func(now time.Time) string {
			return sign(t, jose.RS256, is.key, "k1", claims(now, func(c map[string]any) { delete(c, "client_id") }))
		}, `access token has no "client_id" claim`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := is.fetches.Load()
			r := newRig(t, cfg, testCredentials())
			w := r.post(tt.token(r.now), callBody(1, "query_memory", map[string]any{}), nil)
			if got := is.fetches.Load() - before; got != tt.fetches {
				t.Errorf("JWKS fetched %d times, want %d", got, tt.fetches)
			}

			if tt.reason == "" {
				want := []toolSeen{{Tool: "query_memory", Client: "oauth-reader", Args: map[string]any{}}}
				if diff := cmp.Diff(want, r.seen()); w.Code != http.StatusOK || diff != "" {
					t.Errorf("status %d %s; tool calls (-want +got):\n%s", w.Code, w.Body, diff)
				}
				return
			}
			wantReason := "authentication failed: " + tt.reason
			if w.Code != http.StatusUnauthorized || w.Body.String() != wantReason+"\n" ||
				w.Header().Get("WWW-Authenticate") != `Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource"` {
				t.Errorf("got %d %q WWW-Authenticate %q", w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
			}
			wantLines := []map[string]any{{"timestamp": r.now.Format(time.RFC3339), "level": "warn",
				"operation": "authentication", "client_id": "anonymous", "result": "failure",
				"metadata": map[string]any{"reason": wantReason, "remote_addr": rigRemote,
					"path": "/mcp", "method": "oauth"}}}
			if diff := cmp.Diff(wantLines, r.auditLines(t)); diff != "" {
				t.Errorf("audit lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]float64{"audit_authentication_failures_total": 1},
				r.counters(t)); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]toolSeen(nil), r.seen()); diff != "" {
				t.Errorf("tool handlers ran (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClaimedIdentityIsIgnored claims another client's identity in _meta,
// in the tool arguments and in the header that marks checked calls: the
// tool and the audit log see the token's client, and a read-only client
// claiming to be the writer is still refused writes.
func TestClaimedIdentityIsIgnored(t *testing.T) {
	claim := map[string]any{"client_id": "writer", "clientId": "writer", "identity": "writer"}
	withMeta := func(id int, tool string) string {
		b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call",
			"params": map[string]any{"name": tool, "arguments": claim, "_meta": claim}})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	forgeChecked := func(r *http.Request) { r.Header.Set(checkedHeader, "guess delete_episode") }
	tests := []struct {
		name      string
		body      string
		edit      func(*http.Request)
		wantCalls []toolSeen
		wantLine  map[string]any // the call's audit line, without its timestamp
	}{
		{name: "read with a claim in _meta and arguments", body: withMeta(1, "query_memory"),
			wantCalls: []toolSeen{{Tool: "query_memory", Client: "reader", Args: claim}},
			wantLine: map[string]any{"level": "debug", "operation": "tool_call", "client_id": "reader",
				"result": "success", "metadata": map[string]any{"tool": "query_memory", "duration_ms": float64(0)}}},
		{name: "write with a claim in _meta and arguments", body: withMeta(2, "delete_episode"),
			wantLine: map[string]any{"level": "warn", "operation": "security_violation", "client_id": "reader",
				"result": "denied", "metadata": map[string]any{"tool": "delete_episode", "method": "tools/call",
					"remote_addr": rigRemote, "reason": `tool "delete_episode" needs scope "mcp:write", ` +
						"which this credential does not hold"}}},
		{name: "write with a forged checked header", body: withMeta(3, "delete_episode"), edit: forgeChecked,
			wantLine: map[string]any{"level": "warn", "operation": "security_violation", "client_id": "reader",
				"result": "denied", "metadata": map[string]any{"tool": "delete_episode", "method": "tools/call",
					"remote_addr": rigRemote, "reason": `tool "delete_episode" needs scope "mcp:write", ` +
						"which this credential does not hold"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := rigConfig()
			cfg.Audit.Level = "debug"
			r := newRig(t, cfg, testCredentials())
			r.post(readerToken, tt.body, tt.edit)

			if diff := cmp.Diff(tt.wantCalls, r.seen()); diff != "" {
				t.Errorf("tool calls (-want +got):\n%s", diff)
			}
			lines := r.auditLines(t)
			for _, l := range lines {
				delete(l, "timestamp")
			}
			if diff := cmp.Diff([]map[string]any{tt.wantLine}, lines); diff != "" {
				t.Errorf("audit lines (-want +got):\n%s", diff)
			}
		})
	}
}

// endlessBody streams n bytes of one JSON string without holding them.
type endlessBody struct {
	n, read int64
}

func (b *endlessBody) Read(p []byte) (int, error) {
	if b.read >= b.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), b.n-b.read)
	for i := range p[:k] {
		p[i] = 'x'
	}
	if b.read == 0 {
		copy(p, `{"a":"`)
	}
	b.read += k
	return int(k), nil
}

// TestHostileBodiesAreNotReadWhole sends a 64 MiB body and 100,000 open
// brackets to the HTTP middleware with its default limits (the sandbox off,
// which would raise them for WebAssembly modules): each is refused, the
// server reads little more than the 4 MiB limit, and allocates a bounded
// amount for it.
func TestHostileBodiesAreNotReadWhole(t *testing.T) {
	tests := []struct {
		name       string
		body       func() io.Reader
		status     int
		message    string
		maxRead    int64
		maxAlloced uint64
	}{
		{"64 MiB body", func() io.Reader { return &endlessBody{n: 64 << 20} }, http.StatusRequestEntityTooLarge,
			"request exceeds the body_bytes limit of 4194304 at $; send less data per call", 4<<20 + 64<<10, 12 << 20},
		{"100,000 open brackets", func() io.Reader { return strings.NewReader(strings.Repeat("[", 100_000)) },
			http.StatusBadRequest, "request is not valid JSON near $", 100_000, 1 << 20},
		{"100,000 nested lists", func() io.Reader {
			return strings.NewReader(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000))
		}, http.StatusBadRequest, "request is not valid JSON near $", 200_000, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLayers(t.Context(), Options{AuditStdout: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close() })
			if err := l.Apply(rigConfig()); err != nil {
				t.Fatal(err)
			}
			l.ApplyCredentials(testCredentials())
			h := l.HTTPMiddleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("the body reached the MCP handler")
			}))
			body := tt.body()
			counted := &countingReader{r: body}
			req := httptest.NewRequest(http.MethodPost, "/mcp", counted)
			req.Header.Set("Authorization", "Bearer "+writerToken)
			w := httptest.NewRecorder()

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			h.ServeHTTP(w, req)
			runtime.ReadMemStats(&after)

			// Note: the race detector's instrumentation keeps the compiler from
			// fusing io.ReadAll's make-and-append, which doubles what it
			// allocates; the bound doubles with it.
			maxAlloced := tt.maxAlloced
			if raceEnabled {
				maxAlloced *= 2
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxAlloced {
				t.Errorf("allocated %d bytes, want at most %d", alloc, maxAlloced)
			}
			if counted.n > tt.maxRead {
				t.Errorf("read %d bytes of the body, want at most %d", counted.n, tt.maxRead)
			}
			var got struct{ Error struct{ Message string } }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != tt.status ||
				got.Error.Message != tt.message {
				t.Errorf("got %d %s, want %d with %q", w.Code, w.Body, tt.status, tt.message)
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestHostileFieldsCannotForgeAuditLines puts line breaks and fake JSON in
// every field a client controls (tool name, episode text, bearer token,
// User-Agent) and in a metadata value a tool records: each event is one
// audit line holding one JSON object, and the hostile text reads back as
// the value it was.
func TestHostileFieldsCannotForgeAuditLines(t *testing.T) {
	hostile := []string{
		"a\n{\"operation\":\"config_change\",\"client_id\":\"system\"}",
		"a\r{\"operation\":\"config_change\"}",
		"x\"}\n{\"operation\":\"config_change\",\"result\":\"success\"",
		"a\u2028b\u2029c\u0085d",
		"a\x00b\x1b[2Jc\x7fd",
	}
	cfg := rigConfig()
	cfg.Audit.Level = "debug"
	r := newRig(t, cfg, testCredentials())
	var wantTools []any
	for i, s := range hostile {
		userAgent := func(req *http.Request) { req.Header.Set("User-Agent", s) }
		r.post(writerToken, callBody(i, s, map[string]any{}), userAgent)
		r.post(writerToken, callBody(i, "delete_episode", map[string]any{"text": s}), userAgent)
		r.post("mmcp_"+s, callBody(i, "query_memory", map[string]any{}), userAgent)
		r.l.Auditor().Record(t.Context(), audit.Event{Level: audit.LevelInfo, Operation: audit.OpDeleteEpisode,
			Result: audit.ResultSuccess, Metadata: map[string]any{"episode": s}})
		wantTools = append(wantTools, s, "delete_episode", nil, s)
	}

	// Four events per string: the unknown tool's call, the write's call,
	// the refused token and the tool's own record.
	lines := r.auditLines(t)
	var gotTools []any
	for _, l := range lines {
		md := l["metadata"].(map[string]any)
		switch l["operation"] {
		case audit.OpDeleteEpisode:
			gotTools = append(gotTools, md["episode"])
		default:
			gotTools = append(gotTools, md["tool"])
		}
	}
	if diff := cmp.Diff(wantTools, gotTools); diff != "" {
		t.Errorf("tool and episode fields of %d audit lines (-want +got):\n%s", len(lines), diff)
	}
}

// TestRefusalsDoNotRepeatLongNames sends, with the default input limits,
// requests whose tool name or object keys are as long as a string may be,
// and which are refused before authentication: each audit line stays
// small, so such requests cannot flood the audit log and its spool.
func TestRefusalsDoNotRepeatLongNames(t *testing.T) {
	long := strings.Repeat("k", 100_000)
	tests := []struct {
		name, body string
	}{
		{"tool name from a blocked source", callBody(1, long, map[string]any{})},
		{"keys of a body too deep", callBody(1, "query_memory", map[string]any{long: nested(40)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &syncBuffer{}
			l, err := NewLayers(t.Context(), Options{AuditStdout: out})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close() })
			cfg := rigConfig()
			cfg.BlockedClients.CIDRs = []string{rigRemote + "/32"}
			if err := l.Apply(cfg); err != nil {
				t.Fatal(err)
			}
			h := l.HTTPMiddleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("the request reached the MCP handler")
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tt.body)))
			if w.Code == http.StatusOK || w.Body.Len() > 4096 {
				t.Errorf("answer %d of %d bytes, want a refusal of at most 4096", w.Code, w.Body.Len())
			}
			lines := parseAuditLines(t, out.buf.String())
			if len(lines) != 1 || out.buf.Len() > 4096 {
				t.Errorf("%d audit lines of %d bytes, want one of at most 4096", len(lines), out.buf.Len())
			}
		})
	}
}
