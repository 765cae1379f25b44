package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/auth"
	"github.com/memorymcp/memory-mcp-operator/internal/guard"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/ratelimit"
)

// JSON-RPC error codes of refusals, in the range JSON-RPC leaves to servers.
// Note: they avoid the codes the Go SDK gives meaning to (-32001 to -32005,
// -32020 to -32022, -32042); -32003 in particular reads as "client is
// closing" and makes the SDK client drop the connection.
const (
	CodeForbidden   = -32030
	CodeRateLimited = -32029
)

// checkedHeader tells the MCP middleware that the HTTP middleware already
// ran the per-call checks; its value is a per-process secret, so a client
// cannot set it to skip them, followed by the tool name the checks were for.
const checkedHeader = "Memory-Mcp-Policy-Checked"

// envelope is the part of a JSON-RPC request the HTTP layer needs.
type envelope struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
}

// HTTPMiddleware wraps the /mcp handler with every layer that HTTP can
// answer: input limits (413/400), source and client blocklist (403),
// authentication (401), scopes (403) and rate limits (429 with
// Retry-After). Refusals carry a JSON-RPC error body the MCP client
// surfaces as the call's error.
func (l *Layers) HTTPMiddleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		calls := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.serveAuthenticated(w, r, next)
		})
		authenticated := l.auth.Middleware()(calls)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del(checkedHeader)
			env, ok := l.checkInput(w, r)
			if !ok {
				return
			}
			if err := l.policy.CheckSource(auth.RemoteAddr(r)); err != nil {
				l.refuse(r.Context(), audit.OpSecurityViolation, err, httpMeta(r, env))
				writeRPCError(w, http.StatusForbidden, env.ID, CodeForbidden, err, nil)
				return
			}
			authenticated.ServeHTTP(w, r.WithContext(withEnvelope(r.Context(), env)))
		})
	}
}

// checkInput reads the body within the size limit and checks its shape.
// Every body may meet the base limits; only a call of codeTool may go up
// to the wider code limits, so a body over the base limits is scanned
// again with those, and only then decoded to see which tool it calls.
func (l *Layers) checkInput(w http.ResponseWriter, r *http.Request) (envelope, bool) {
	var env envelope
	if r.Method != http.MethodPost || r.Body == nil {
		return env, true
	}
	lim := l.limits.Load()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, lim.code.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		l.refuseInput(w, r, &guard.InputError{Limit: "body_bytes", Max: lim.code.MaxBodyBytes, Path: "$"})
		return env, false
	case err != nil:
		http.Error(w, "reading request body failed", http.StatusBadRequest)
		return env, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	// Note: a batch or a non-object body decodes to nothing, and the SDK
	// may read another tool name than encoding/json (see checkedMark); the
	// MCP middleware then checks the arguments again, with the limits of the
	// tool the SDK calls.
	baseErr := guard.CheckJSON(body, lim.base)
	if baseErr != nil && lim.base != lim.code {
		if err := guard.CheckJSON(body, lim.code); err != nil {
			l.refuseInput(w, r, err)
			return env, false
		}
		_ = json.Unmarshal(body, &env)
		if env.Method == "tools/call" && env.Params.Name == codeTool {
			return env, true
		}
	}
	if baseErr != nil {
		l.refuseInput(w, r, baseErr)
		return envelope{}, false
	}
	_ = json.Unmarshal(body, &env)
	return env, true
}

// refuseInput audits and answers a body that breaks an input limit: 413
// for its size, 400 for its shape. The body's own fields are left out of
// the event: they are as large as the limit that refused them.
func (l *Layers) refuseInput(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	if ie := (*guard.InputError)(nil); errors.As(err, &ie) && ie.Limit == "body_bytes" {
		status = http.StatusRequestEntityTooLarge
	}
	l.refuse(r.Context(), audit.OpSecurityViolation, err, httpMeta(r, envelope{}))
	writeRPCError(w, status, nil, jsonrpc.CodeInvalidRequest, err, nil)
}

// serveAuthenticated runs the checks that need the client: blocklist by
// name, then, for a tool call, scope and rate limit.
func (l *Layers) serveAuthenticated(w http.ResponseWriter, r *http.Request, next http.Handler) {
	ctx := r.Context()
	env := envelopeFrom(ctx)
	c := identity.FromContext(ctx)
	if err := l.policy.CheckClient(c); err != nil {
		l.refuse(ctx, audit.OpSecurityViolation, err, httpMeta(r, env))
		writeRPCError(w, http.StatusForbidden, env.ID, CodeForbidden, err, nil)
		return
	}
	if env.Method == "tools/call" {
		if !l.checkCall(w, r, c, env) {
			return
		}
		r.Header.Set(checkedHeader, l.checkedMark(env.Params.Name))
	}
	next.ServeHTTP(w, r)
}

// checkedMark is the checked header's value for a call to tool. Naming
// the tool keeps a body the two JSON decoders read differently from passing
// one tool's checks off as another's: encoding/json matches keys without
// regard to case and the SDK does not, so {"name":"delete_episode",
// "NAME":"query_memory"} is a read here and a write in the SDK.
func (l *Layers) checkedMark(tool string) string {
	return l.checked + " " + tool
}

func (l *Layers) checkCall(w http.ResponseWriter, r *http.Request, c *identity.Client, env envelope) bool {
	class := l.opts.Classify(env.Params.Name)
	md := httpMeta(r, env)
	if err := guard.CheckScope(c, env.Params.Name, class); err != nil {
		l.refuse(r.Context(), audit.OpSecurityViolation, err, md)
		l.countRefusal(env.Params.Name)
		w.Header().Set("WWW-Authenticate",
			fmt.Sprintf("Bearer error=\"insufficient_scope\", scope=%q", class.Scope()))
		writeRPCError(w, http.StatusForbidden, env.ID, CodeForbidden, err, nil)
		return false
	}
	if err := l.limiter.Allow(c.ID, class); err != nil {
		var le *ratelimit.LimitedError
		errors.As(err, &le)
		l.refuse(r.Context(), audit.OpRateLimitViolation, err, md)
		l.countRefusal(env.Params.Name)
		w.Header().Set("Retry-After", strconv.Itoa(le.RetryAfterSeconds()))
		writeRPCError(w, http.StatusTooManyRequests, env.ID, CodeRateLimited, err,
			map[string]any{"retry_after_seconds": le.RetryAfterSeconds()})
		return false
	}
	return true
}

func httpMeta(r *http.Request, env envelope) map[string]any {
	md := map[string]any{"remote_addr": auth.RemoteAddr(r).String()}
	if env.Method != "" {
		md["method"] = guard.Clip(env.Method)
	}
	if env.Params.Name != "" {
		md["tool"] = guard.Clip(env.Params.Name)
	}
	return md
}

// writeRPCError answers with an HTTP status and a JSON-RPC error body.
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int64, err error,
	data map[string]any) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body := map[string]any{"jsonrpc": "2.0", "id": id,
		"error": map[string]any{"code": code, "message": err.Error()}}
	if data != nil {
		body["error"].(map[string]any)["data"] = data
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client hung up; nothing left to tell it
}
