package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

var guestBuild struct {
	once sync.Once
	dir  string
	err  error
}

// guest returns a program of internal/sandbox/testdata/guests built for
// wasip1; the Go build cache makes every build after the first cheap.
func guest(t *testing.T, name string) []byte {
	t.Helper()
	guestBuild.once.Do(func() {
		guestBuild.dir, guestBuild.err = os.MkdirTemp("", "mcp-server-guests")
		if guestBuild.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", guestBuild.dir+string(filepath.Separator),
			"./internal/sandbox/testdata/guests/jsontransform", "./internal/sandbox/testdata/guests/spin")
		cmd.Dir = filepath.Join("..", "..")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			guestBuild.err = fmt.Errorf("building guests: %w\n%s", err, out)
		}
	})
	if guestBuild.err != nil {
		t.Fatal(guestBuild.err)
	}
	b, err := os.ReadFile(filepath.Join(guestBuild.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// escapingModule imports env.escape, which no WASI program needs: the
// shape of a module trying to reach a host function beyond the sandbox.
var escapingModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
	0x02, 0x0e, 0x01, 0x03, 'e', 'n', 'v', 0x06, 'e', 's', 'c', 'a', 'p', 'e', 0x00, 0x00, // import env.escape
	0x03, 0x02, 0x01, 0x00, // one function of type 0
	0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x01, // export _start
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // its empty body
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func execute(t *testing.T, cs *mcp.ClientSession, module []byte, input map[string]any,
	timeoutMS int) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "execute_agent_code",
		Arguments: map[string]any{"module_base64": base64.StdEncoding.EncodeToString(module),
			"input": input, "timeout_ms": timeoutMS}})
	if err != nil {
		t.Fatalf("execute_agent_code: %v", err)
	}
	return res
}

// TestExecuteAgentCode runs agent programs through MCP in the real binary.
func TestExecuteAgentCode(t *testing.T) {
	tok, coder := newToken(t, "coder", identity.ScopeRead, identity.ScopeWrite)
	cfg := runtimeconfig.Default()
	cfg.Generation = 1
	cfgDir := newProjection(t, map[string][]byte{runtimeconfig.ConfigKey: renderConfig(t, cfg)})
	credDir := newProjection(t, map[string][]byte{runtimeconfig.CredentialsKey: renderCredentials(t, coder)})
	p := startServer(t, "--config-file="+cfgDir.path(runtimeconfig.ConfigKey),
		"--credentials-file="+credDir.path(runtimeconfig.CredentialsKey))
	cs := p.connect(t, tok)
	transform, spin := guest(t, "jsontransform"), guest(t, "spin")

	t.Run("JSON in, JSON out", func(t *testing.T) {
		res := execute(t, cs, transform, map[string]any{"numbers": []float64{1, 2, 3.5}}, 0)
		var out struct {
			OutputJSON json.RawMessage `json:"output_json"`
			ExitCode   int             `json:"exit_code"`
		}
		raw, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(raw, &out); err != nil || res.IsError {
			t.Fatalf("result %s: %v", raw, err)
		}
		if diff := cmp.Diff(`{"count":3,"sum":6.5}`, strings.TrimSpace(string(out.OutputJSON))); diff != "" {
			t.Errorf("output_json (-want +got):\n%s", diff)
		}
	})

	t.Run("the time limit ends a stuck program and repeated hits are a violation", func(t *testing.T) {
		for range limitHitThreshold {
			res := execute(t, cs, spin, map[string]any{}, 200)
			if !res.IsError || !strings.Contains(contentText(res), "timeout limit") {
				t.Fatalf("spin: isError=%v %q, want the timeout limit named", res.IsError, contentText(res))
			}
		}
	})

	t.Run("a forbidden import is refused", func(t *testing.T) {
		res := execute(t, cs, escapingModule, map[string]any{}, 0)
		if !res.IsError || !strings.Contains(contentText(res), "env.escape") {
			t.Errorf("escaping module: isError=%v %q", res.IsError, contentText(res))
		}
	})

	t.Run("runs and violations are audited", func(t *testing.T) {
		p.awaitAudit(t, p.stdout.String, sandboxAudit(transform, spin))
		if v := p.gauge(t, "audit_security_violations_total"); v < 2 {
			t.Errorf("audit_security_violations_total = %v, want at least 2", v)
		}
	})

	t.Run("a disabled sandbox hides the tool and says so", func(t *testing.T) {
		off := runtimeconfig.Default()
		off.Generation, off.Sandbox.Enabled = 2, false
		cfgDir.update(t, map[string][]byte{runtimeconfig.ConfigKey: renderConfig(t, off)})
		p.awaitGeneration(t, 2)
		if toolNames(t, cs)["execute_agent_code"] {
			t.Error("execute_agent_code still listed with the sandbox disabled")
		}
		msg := callErr(t.Context(), cs, "execute_agent_code", map[string]any{"module_base64": "AA=="})
		if !strings.Contains(msg, `"execute_agent_code" is disabled`) {
			t.Errorf("calling with the sandbox disabled: %q", msg)
		}
	})
}

// sandboxAudit is what the runs above must have left in the audit log.
func sandboxAudit(transform, spin []byte) map[string]func(auditLine) bool {
	return map[string]func(auditLine) bool{
		"successful run": func(e auditLine) bool {
			return e.Operation == "execute_agent_code" && e.Result == "success" &&
				e.ClientID == "coder" && e.Metadata["module_hash"] == hashOf(transform) &&
				e.Metadata["exit_code"] == float64(0) && e.Metadata["duration_ms"] != nil
		},
		"run at the time limit": func(e auditLine) bool {
			return e.Operation == "execute_agent_code" && e.Result == "failure" &&
				e.Metadata["module_hash"] == hashOf(spin) && e.Metadata["limit_hit"] == "timeout"
		},
		"repeated limit hits": func(e auditLine) bool {
			return e.Operation == "security_violation" && e.ClientID == "coder" &&
				e.Metadata["reason"] == "repeated sandbox limit hits"
		},
		"forbidden import": func(e auditLine) bool {
			return e.Operation == "security_violation" &&
				e.Metadata["module_hash"] == hashOf(escapingModule) &&
				strings.Contains(fmt.Sprint(e.Metadata["reason"]), "env.escape")
		},
	}
}
