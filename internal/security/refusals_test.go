package security

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

const challenge = `Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource"`

// nested returns n objects nested in one another under key "a".
func nested(n int) any {
	var v any = 1
	for range n {
		v = map[string]any{"a": v}
	}
	return v
}

// refusal is what a client and an operator see of one refused request.
type refusal struct {
	status  int
	headers map[string]string
	body    string // the response body, trimmed
	// event is the audit line the refusal writes, without its timestamp.
	event map[string]any
	// counters are all the non-zero counters after the request.
	counters map[string]float64
}

// TestRefusals walks every layer in order and breaks it once: the client
// gets a status and a message naming what to fix, the operator one audit
// line and one count in the metric its alerts read.
func TestRefusals(t *testing.T) {
	rotated := func() *runtimeconfig.Credentials {
		c := testCredentials()
		past := time.Now().Add(-time.Minute)
		c.Clients[0].Tokens = append(c.Clients[0].Tokens,
			runtimeconfig.TokenHash{SHA256: runtimeconfig.HashToken("mmcp_previous"), NotAfter: &past})
		return c
	}
	read := func(id int) string { return callBody(id, "query_memory", map[string]any{"text": "x"}) }
	write := func(id int) string { return callBody(id, "delete_episode", map[string]any{"text": "x"}) }
	denied := func(client string, md map[string]any) map[string]any {
		return map[string]any{"level": "warn", "operation": "security_violation", "client_id": client,
			"result": "denied", "metadata": md}
	}
	authFailed := func(reason string, md map[string]any) map[string]any {
		md["reason"], md["remote_addr"], md["path"] = "authentication failed: "+reason, rigRemote, "/mcp"
		return map[string]any{"level": "warn", "operation": "authentication", "client_id": "anonymous",
			"result": "failure", "metadata": md}
	}
	rpcErr := func(id, code, msg string) string {
		return `{"error":{"code":` + code + `,"message":` + msg + `},"id":` + id + `,"jsonrpc":"2.0"}`
	}
	inputErr := func(limit, max, path string) (string, map[string]any) {
		msg := "request exceeds the " + limit + " limit of " + max + " at " + path + "; send less data per call"
		return rpcErr("null", "-32600", `"`+msg+`"`), denied("anonymous",
			map[string]any{"reason": msg, "remote_addr": rigRemote})
	}
	bigBody, bigEvent := inputErr("body_bytes", "4096", "$")
	deepBody, deepEvent := inputErr("depth", "8", "$.params.arguments.a.a.a.a.a.a")
	longBody, longEvent := inputErr("string_bytes", "64", "$.params.arguments.text")
	listBody, listEvent := inputErr("list_length", "8", "$.params.arguments.tags[8]")
	keysBody, keysEvent := inputErr("object_keys", "16", "$.params.arguments.k9")
	manyKeys := map[string]any{}
	for i := range 17 {
		manyKeys["k"+strconv.Itoa(i)] = i
	}
	callMeta := func(tool, reason string) map[string]any {
		return map[string]any{"remote_addr": rigRemote, "method": "tools/call", "tool": tool, "reason": reason}
	}

	tests := []struct {
		name   string
		config func(*runtimeconfig.Config)
		creds  func() *runtimeconfig.Credentials
		before []string // bodies the writer sends first, each accepted
		token  string
		body   string
		want   refusal
	}{
		{name: "body too large", token: writerToken,
			body: callBody(1, "query_memory", map[string]any{"text": strings.Repeat("x", 5000)}),
			want: refusal{status: http.StatusRequestEntityTooLarge, body: bigBody, event: bigEvent,
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "JSON too deep", token: writerToken, body: callBody(1, "query_memory", nested(9)),
			want: refusal{status: http.StatusBadRequest, body: deepBody, event: deepEvent,
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "string too long", token: writerToken,
			body: callBody(1, "query_memory", map[string]any{"text": strings.Repeat("x", 65)}),
			want: refusal{status: http.StatusBadRequest, body: longBody, event: longEvent,
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "list too long", token: writerToken,
			body: callBody(1, "query_memory", map[string]any{"tags": make([]int, 9)}),
			want: refusal{status: http.StatusBadRequest, body: listBody, event: listEvent,
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "too many keys", token: writerToken, body: callBody(1, "query_memory", manyKeys),
			want: refusal{status: http.StatusBadRequest, body: keysBody, event: keysEvent,
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "not JSON", token: writerToken, body: `{"jsonrpc":"2.0","id":1,`,
			want: refusal{status: http.StatusBadRequest,
				body: rpcErr("null", "-32600", `"request is not valid JSON near $"`),
				event: denied("anonymous", map[string]any{"reason": "request is not valid JSON near $",
					"remote_addr": rigRemote}),
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "blocked source", token: writerToken, body: read(1),
			config: func(c *runtimeconfig.Config) { c.BlockedClients.CIDRs = []string{"192.0.2.0/24"} },
			want: refusal{status: http.StatusForbidden,
				body: rpcErr("1", "-32030", `"source address 192.0.2.1 is blocked on this server; contact its operators"`),
				event: denied("anonymous", callMeta("query_memory",
					"source address 192.0.2.1 is blocked on this server; contact its operators")),
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "missing token", body: read(1),
			want: refusal{status: http.StatusUnauthorized, headers: map[string]string{"WWW-Authenticate": challenge},
				body:     "no bearer token",
				event:    authFailed("no bearer token", map[string]any{}),
				counters: map[string]float64{"audit_authentication_failures_total": 1}}},
		{name: "unknown token", token: "mmcp_guessed", body: read(1),
			want: refusal{status: http.StatusUnauthorized, headers: map[string]string{"WWW-Authenticate": challenge},
				body:     "authentication failed: unknown bearer token",
				event:    authFailed("unknown bearer token", map[string]any{"method": "token"}),
				counters: map[string]float64{"audit_authentication_failures_total": 1}}},
		{name: "rotated token past its grace period", creds: rotated, token: "mmcp_previous", body: read(1),
			want: refusal{status: http.StatusUnauthorized, headers: map[string]string{"WWW-Authenticate": challenge},
				body: "authentication failed: bearer token was rotated and its grace period ended; " +
					"use the client's current token",
				event: authFailed("bearer token was rotated and its grace period ended; "+
					"use the client's current token", map[string]any{"method": "token"}),
				counters: map[string]float64{"audit_authentication_failures_total": 1}}},
		{name: "blocked client", token: mallory, body: read(1),
			config: func(c *runtimeconfig.Config) { c.BlockedClients.Names = []string{"mallory"} },
			want: refusal{status: http.StatusForbidden,
				body: rpcErr("1", "-32030", `"client \"mallory\" is blocked on this server; contact its operators"`),
				event: denied("mallory", callMeta("query_memory",
					`client "mallory" is blocked on this server; contact its operators`)),
				counters: map[string]float64{"audit_security_violations_total": 1}}},
		{name: "missing scope", token: readerToken, body: write(1),
			want: refusal{status: http.StatusForbidden,
				headers: map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope", scope="mcp:write"`},
				body: rpcErr("1", "-32030",
					`"tool \"delete_episode\" needs scope \"mcp:write\", which this credential does not hold"`),
				event: denied("reader", callMeta("delete_episode",
					`tool "delete_episode" needs scope "mcp:write", which this credential does not hold`)),
				counters: map[string]float64{"audit_security_violations_total": 1,
					`memory_mcp_tool_calls_total{result="refused",tool="delete_episode"}`: 1}}},
		{name: "read rate limit, write bucket untouched", token: writerToken, body: read(3),
			config: func(c *runtimeconfig.Config) {
				c.RateLimits.Read = runtimeconfig.Bucket{RequestsPerSecond: 0.5, Burst: 1}
			},
			before: []string{read(1), write(2)},
			want: refusal{status: http.StatusTooManyRequests, headers: map[string]string{"Retry-After": "2"},
				body: `{"error":{"code":-32029,"data":{"retry_after_seconds":2},"message":` +
					`"rate limit exceeded for read calls by client \"writer\": retry after 2s"},"id":3,"jsonrpc":"2.0"}`,
				event: map[string]any{"level": "warn", "operation": "rate_limit_violation", "client_id": "writer",
					"result": "denied", "metadata": callMeta("query_memory",
						`rate limit exceeded for read calls by client "writer": retry after 2s`)},
				counters: map[string]float64{"audit_rate_limit_violations_total": 1,
					`memory_mcp_tool_calls_total{result="ok",tool="query_memory"}`:      1,
					`memory_mcp_tool_calls_total{result="ok",tool="delete_episode"}`:    1,
					`memory_mcp_tool_calls_total{result="refused",tool="query_memory"}`: 1}}},
		{name: "write rate limit, read bucket untouched", token: writerToken, body: write(3),
			config: func(c *runtimeconfig.Config) {
				c.RateLimits.Write = runtimeconfig.Bucket{RequestsPerSecond: 0.25, Burst: 1}
			},
			before: []string{write(1), read(2)},
			want: refusal{status: http.StatusTooManyRequests, headers: map[string]string{"Retry-After": "4"},
				body: `{"error":{"code":-32029,"data":{"retry_after_seconds":4},"message":` +
					`"rate limit exceeded for write calls by client \"writer\": retry after 4s"},"id":3,"jsonrpc":"2.0"}`,
				event: map[string]any{"level": "warn", "operation": "rate_limit_violation", "client_id": "writer",
					"result": "denied", "metadata": callMeta("delete_episode",
						`rate limit exceeded for write calls by client "writer": retry after 4s`)},
				counters: map[string]float64{"audit_rate_limit_violations_total": 1,
					`memory_mcp_tool_calls_total{result="ok",tool="query_memory"}`:        1,
					`memory_mcp_tool_calls_total{result="ok",tool="delete_episode"}`:      1,
					`memory_mcp_tool_calls_total{result="refused",tool="delete_episode"}`: 1}}},
		{name: "disabled tool", token: writerToken, body: write(1),
			config: func(c *runtimeconfig.Config) { c.DisabledTools = []string{"delete_episode"} },
			want: refusal{status: http.StatusOK,
				body: `{"jsonrpc":"2.0","id":1,"error":{"code":-32030,` +
					`"message":"tool \"delete_episode\" is disabled on this server by its operators"}}`,
				event: denied("writer", map[string]any{"tool": "delete_episode",
					"reason": `tool "delete_episode" is disabled on this server by its operators`}),
				counters: map[string]float64{"audit_security_violations_total": 1,
					`memory_mcp_tool_calls_total{result="refused",tool="delete_episode"}`: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := rigConfig()
			if tt.config != nil {
				tt.config(cfg)
			}
			creds := testCredentials()
			if tt.creds != nil {
				creds = tt.creds()
			}
			r := newRig(t, cfg, creds)
			for _, body := range tt.before {
				if w := r.post(writerToken, body, nil); w.Code != http.StatusOK || strings.Contains(w.Body.String(), "error") {
					t.Fatalf("setup call %s: %d %s", body, w.Code, w.Body)
				}
			}
			calls, lines := len(r.seen()), len(r.auditLines(t))

			w := r.post(tt.token, tt.body, nil)
			got := refusal{status: w.Code, body: strings.TrimSpace(w.Body.String()), counters: r.counters(t)}
			for k := range tt.want.headers {
				if got.headers == nil {
					got.headers = map[string]string{}
				}
				got.headers[k] = w.Header().Get(k)
			}
			if all := r.auditLines(t); len(all) == lines+1 {
				got.event = all[lines]
				if ts := got.event["timestamp"]; ts != r.now.Format(time.RFC3339) {
					t.Errorf("audit timestamp %v, want %v", ts, r.now.Format(time.RFC3339))
				}
				delete(got.event, "timestamp")
			} else {
				t.Errorf("the refusal wrote %d audit lines, want 1: %v", len(all)-lines, all[lines:])
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(refusal{})); diff != "" {
				t.Errorf("refusal (-want +got):\n%s", diff)
			}
			if n := len(r.seen()); n != calls {
				t.Errorf("a tool ran for the refused call")
			}
		})
	}
}

// TestDisabledToolIsHiddenFromList checks the other half of disabling a
// tool: clients do not see it in tools/list.
func TestDisabledToolIsHiddenFromList(t *testing.T) {
	for _, disabled := range [][]string{nil, {"delete_episode"}} {
		cfg := rigConfig()
		cfg.DisabledTools = disabled
		r := newRig(t, cfg, testCredentials())
		w := r.post(writerToken, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil)
		var res struct {
			Result struct {
				Tools []struct{ Name string }
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("tools/list: %v: %s", err, w.Body)
		}
		var got []string
		for _, tool := range res.Result.Tools {
			got = append(got, tool.Name)
		}
		want := []string{"delete_episode", "query_memory"}
		if len(disabled) > 0 {
			want = []string{"query_memory"}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("disabled %v: tools/list (-want +got):\n%s", disabled, diff)
		}
	}
}

// TestOnlyTheCodeToolTakesModuleSizedStrings turns the sandbox on, which
// lets execute_agent_code carry a module far larger than the input limits:
// that allowance is the code tool's alone, also when a body names it in
// a key the SDK does not read.
func TestOnlyTheCodeToolTakesModuleSizedStrings(t *testing.T) {
	long := strings.Repeat("x", 5000) // past the rig's string and body limits
	tests := []struct {
		name, body string
		wantStatus int
		wantError  string // "" when the tool runs
	}{
		{"a long string for another tool", callBody(1, "query_memory", map[string]any{"text": long}),
			http.StatusRequestEntityTooLarge, "request exceeds the body_bytes limit of 4096 at $; send less data per call"},
		{"a long string within the body limit for another tool",
			callBody(1, "query_memory", map[string]any{"text": long[:65]}),
			http.StatusBadRequest, "request exceeds the string_bytes limit of 64 at $.params.arguments.text; " +
				"send less data per call"},
		{"a module-sized string for the code tool", callBody(1, codeTool, map[string]any{"module_base64": long}),
			http.StatusOK, ""},
		{"the code tool named in a key the SDK ignores", `{"jsonrpc":"2.0","id":1,"method":"tools/call",` +
			`"params":{"name":"query_memory","arguments":{"text":"` + long[:65] + `"},"NAME":"` + codeTool + `"}}`,
			http.StatusOK, "request exceeds the string_bytes limit of 64 at $.text; send less data per call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := rigConfig()
			cfg.Sandbox.Enabled = true
			r := newRig(t, cfg, testCredentials())
			w := r.post(writerToken, tt.body, nil)
			var got struct{ Error struct{ Message string } }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != tt.wantStatus ||
				got.Error.Message != tt.wantError {
				t.Errorf("got %d %s, want %d with error %q", w.Code, w.Body, tt.wantStatus, tt.wantError)
			}
			if ran := len(r.seen()) > 0; ran != (tt.wantError == "") {
				t.Errorf("tool ran = %v, want %v", ran, tt.wantError == "")
			}
		})
	}
}
