package guard

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/toolclass"
)

var small = Limits{MaxBodyBytes: 200, MaxDepth: 3, MaxStringBytes: 8, MaxListLength: 3, MaxObjectKeys: 2}

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name, body string
		want       *InputError
	}{
		{"within limits", `{"a":[1,2,3],"b":{"c":"12345678"}}`, nil},
		{"body too large", `"` + strings.Repeat("x", 300) + `"`, &InputError{Limit: "body_bytes", Max: 200, Path: "$"}},
		{"too deep", `{"a":{"b":{"c":{}}}}`, &InputError{Limit: "depth", Max: 3, Path: "$.a.b.c"}},
		{"long string", `{"a":"123456789"}`, &InputError{Limit: "string_bytes", Max: 8, Path: "$.a"}},
		{"long key", `{"123456789":1}`, &InputError{Limit: "string_bytes", Max: 8, Path: "$"}},
		{"long list", `{"a":[1,2,3,4]}`, &InputError{Limit: "list_length", Max: 3, Path: "$.a[3]"}},
		{"many keys", `{"a":1,"b":2,"c":3}`, &InputError{Limit: "object_keys", Max: 2, Path: "$.c"}},
		{"nested list position", `[[1],["123456789"]]`, &InputError{Limit: "string_bytes", Max: 8, Path: "$[1][0]"}},
		{"broken JSON", `{"a":`, &InputError{Limit: "syntax", Path: "$"}},
		{"escaped quote in a string", `{"a":"x\"y","b":[1,2]}`, nil},
		{"numbers and literals count in lists", `[1,true,null,-2.5e3]`, &InputError{Limit: "list_length", Max: 3, Path: "$[3]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckJSON([]byte(tt.body), small)
			var got *InputError
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("CheckJSON() = %v, want an *InputError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckJSON() (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzCheckJSON checks that no body makes the scan panic, and that a body
// it accepts is valid JSON within the depth limit.
func FuzzCheckJSON(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, `{"jsonrpc":"2.0","id":1,"method":"tools/call",` +
		`"params":{"name":"query_memory","arguments":{"query":"x","tags":["a","b"]}}}`,
		`[[[[[[]]]]]]`, `{"a":"\u0000"}`, `{"a":1e999}`, `"`, `{"a" 1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := CheckJSON(body, small)
		var ie *InputError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("CheckJSON() returned %T, want *InputError", err)
		}
		if err == nil && !json.Valid(body) {
			t.Fatalf("CheckJSON() accepted invalid JSON %q", body)
		}
	})
}

func TestPolicy(t *testing.T) {
	cfg := runtimeconfig.Default()
	cfg.BlockedClients = runtimeconfig.Blocklist{Names: []string{"evil"}, CIDRs: []string{"10.9.0.0/16", "2001:db8::/32"}}
	cfg.DisabledTools = []string{"configure_embeddings"}
	cfg.Sandbox.Enabled = false
	p := NewPolicy()
	p.Apply(cfg)

	reader := &identity.Client{ID: "ok", Scopes: []string{identity.ScopeRead}}
	got := map[string]string{
		"source blocked v4":     errString(p.CheckSource(netip.MustParseAddr("10.9.3.4"))),
		"source blocked mapped": errString(p.CheckSource(netip.MustParseAddr("::ffff:10.9.3.4"))),
		"source blocked v6":     errString(p.CheckSource(netip.MustParseAddr("2001:db8::1"))),
		"source allowed":        errString(p.CheckSource(netip.MustParseAddr("10.8.0.1"))),
		"client blocked":        errString(p.CheckClient(&identity.Client{ID: "evil"})),
		"client allowed":        errString(p.CheckClient(reader)),
		"scope read ok":         errString(CheckScope(reader, "query_memory", toolclass.Read)),
		"scope write refused":   errString(CheckScope(reader, "delete_episode", toolclass.Write)),
		"tool disabled":         errString(p.CheckTool("configure_embeddings")),
		"sandbox off hides":     errString(p.CheckTool("execute_agent_code")),
		"tool enabled":          errString(p.CheckTool("query_memory")),
	}
	want := map[string]string{
		"source blocked v4":     "source address 10.9.3.4 is blocked on this server; contact its operators",
		"source blocked mapped": "source address 10.9.3.4 is blocked on this server; contact its operators",
		"source blocked v6":     "source address 2001:db8::1 is blocked on this server; contact its operators",
		"source allowed":        "",
		"client blocked":        `client "evil" is blocked on this server; contact its operators`,
		"client allowed":        "",
		"scope read ok":         "",
		"scope write refused":   `tool "delete_episode" needs scope "mcp:write", which this credential does not hold`,
		"tool disabled":         `tool "configure_embeddings" is disabled on this server by its operators`,
		"sandbox off hides":     `tool "execute_agent_code" is disabled on this server by its operators`,
		"tool enabled":          "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policy answers (-want +got):\n%s", diff)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRefusalsClipRequestNames checks that a refusal repeats at most a
// bounded prefix of the names a request chose, however long the input
// limits let them be.
func TestRefusalsClipRequestNames(t *testing.T) {
	a, b := strings.Repeat("a", 500), strings.Repeat("b", 500)
	wide := Limits{MaxBodyBytes: 1 << 20, MaxDepth: 2, MaxStringBytes: 1000, MaxListLength: 10, MaxObjectKeys: 10}
	got := map[string]string{
		"object keys in a path": errString(CheckJSON([]byte(`{"`+a+`":{"`+b+`":{}}}`), wide)),
		"tool needing a scope":  errString(&ScopeError{Tool: a, Scope: identity.ScopeWrite}),
		"disabled tool":         errString(&DisabledToolError{Tool: a}),
		"cut on a rune start":   Clip("x" + strings.Repeat("é", 100)),
	}
	clipped := func(s string) string { return s[:128] + "…" }
	want := map[string]string{
		"object keys in a path": "request exceeds the depth limit of 2 at $." + clipped(a) + "." + clipped(b) +
			"; send less data per call",
		"tool needing a scope": `tool "` + clipped(a) + `" needs scope "mcp:write", which this credential does not hold`,
		"disabled tool":        `tool "` + clipped(a) + `" is disabled on this server by its operators`,
		"cut on a rune start":  "x" + strings.Repeat("é", 63) + "…",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
}
