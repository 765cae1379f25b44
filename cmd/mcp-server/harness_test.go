package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// awaitTimeout bounds every wait for the server to reach a state.
const awaitTimeout = 20 * time.Second

// proc is a running mcp-server binary.
type proc struct {
	cmd     *exec.Cmd
	mcpAddr string
	opsAddr string
	stdout  *syncBuffer // audit events when the destination is stdout
	stderr  *syncBuffer // the server's own JSON logs
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs the binary on free loopback ports with args, and waits
// until /readyz answers 200: storage reachable and a runtime config read.
func startServer(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{mcpAddr: freeAddr(t), opsAddr: freeAddr(t), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	args = append([]string{"--listen-addr=" + p.mcpAddr, "--metrics-addr=" + p.opsAddr,
		"--sqlite-path=" + filepath.Join(t.TempDir(), "memory.db"), "--log-level=debug"}, args...)
	p.cmd = exec.Command(buildBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting mcp-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t, exited) })

	p.await(t, "/readyz to answer 200", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("mcp-server exited: %v\n%s", err, p.stderr)
		default:
		}
		res, err := http.Get("http://" + p.opsAddr + "/readyz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

func (p *proc) stop(t *testing.T, exited chan error) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("mcp-server exit: %v\n%s", err, p.stderr)
		}
	case <-time.After(awaitTimeout):
		_ = p.cmd.Process.Kill()
		t.Errorf("mcp-server did not stop after SIGTERM")
	}
	if t.Failed() {
		t.Logf("server log:\n%s", p.stderr)
	}
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// await polls cond until it holds, failing the test at awaitTimeout. The
// server applies changes asynchronously and exposes them only through its
// endpoints, so polling them is how a client observes the change.
func (p *proc) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(awaitTimeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// metrics returns /metrics as text.
func (p *proc) metrics(t *testing.T) string {
	t.Helper()
	res, err := http.Get("http://" + p.opsAddr + "/metrics")
	if err != nil {
		t.Fatalf("scraping /metrics: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gauge returns the value of an unlabelled series, or -1 when absent.
func (p *proc) gauge(t *testing.T, name string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(p.metrics(t)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	return -1
}

// awaitGeneration waits until the server enforces generation gen.
func (p *proc) awaitGeneration(t *testing.T, gen int64) {
	t.Helper()
	p.await(t, fmt.Sprintf("config generation %d", gen), func() bool {
		return p.gauge(t, "memory_mcp_config_generation") == float64(gen)
	})
}

// connect opens an MCP session with a bearer token.
func (p *proc) connect(t *testing.T, token string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint:   "http://" + p.mcpAddr + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{token: token}},
	}, nil)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// post sends one raw JSON-RPC request, for the status codes and headers
// the SDK client does not surface.
func (p *proc) post(t *testing.T, token, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+p.mcpAddr+"/mcp",
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// answer is an HTTP response read to the end.
type answer struct {
	status int
	header http.Header
	body   string
}

// callErr calls a tool and returns the protocol error, or the text of an
// error result, or "" on success.
func callErr(ctx context.Context, cs *mcp.ClientSession, name string, args any) string {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	switch {
	case err != nil:
		return err.Error()
	case res.IsError:
		return contentText(res)
	}
	return ""
}

func contentText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, " ")
}

func toolNames(t *testing.T, cs *mcp.ClientSession) map[string]bool {
	t.Helper()
	list, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	names := map[string]bool{}
	for _, tool := range list.Tools {
		names[tool.Name] = true
	}
	return names
}

// auditLine is one line of the audit log, with the documented fields.
type auditLine struct {
	Timestamp time.Time      `json:"timestamp"`
	Level     string         `json:"level"`
	Operation string         `json:"operation"`
	ClientID  string         `json:"client_id"`
	Result    string         `json:"result"`
	Metadata  map[string]any `json:"metadata"`
}

// auditEvents decodes audit lines, failing on any line that is not one.
func auditEvents(t *testing.T, text string) []auditLine {
	t.Helper()
	var out []auditLine
	for line := range strings.Lines(text) {
		if !strings.HasSuffix(line, "\n") {
			break // still being written
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		for _, k := range []string{"timestamp", "level", "operation", "client_id", "result", "metadata"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("audit line lacks %s: %s", k, line)
			}
		}
		var e auditLine
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// awaitAudit waits until read returns an event for each of wants, then
// reports the ones still missing. Audit lines on stdout reach the test
// through a pipe, a little after the call that caused them has returned.
func (p *proc) awaitAudit(t *testing.T, read func() string, wants map[string]func(auditLine) bool) {
	t.Helper()
	missing := func() []string {
		events := auditEvents(t, read())
		var out []string
		for what, match := range wants {
			if _, ok := findEvent(events, match); !ok {
				out = append(out, what)
			}
		}
		return out
	}
	deadline := time.Now().Add(awaitTimeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for m := missing(); len(m) > 0; m = missing() {
		if time.Now().After(deadline) {
			t.Errorf("no audit event for %v", m)
			return
		}
		<-tick.C
	}
}

// findEvent returns the first event for which match holds.
func findEvent(events []auditLine, match func(auditLine) bool) (auditLine, bool) {
	for _, e := range events {
		if match(e) {
			return e, true
		}
	}
	return auditLine{}, false
}

// writeCredentials renders clients as a credentials document.
func renderCredentials(t *testing.T, clients ...runtimeconfig.ClientCredentials) []byte {
	t.Helper()
	b, err := runtimeconfig.MarshalCredentials(&runtimeconfig.Credentials{
		SchemaVersion: runtimeconfig.SchemaVersion, Clients: clients})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func renderConfig(t *testing.T, cfg *runtimeconfig.Config) []byte {
	t.Helper()
	b, err := runtimeconfig.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newToken returns a token and the credentials of a client holding it.
func newToken(t *testing.T, name string, scopes ...string) (string, runtimeconfig.ClientCredentials) {
	t.Helper()
	tok, err := runtimeconfig.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok, runtimeconfig.ClientCredentials{Name: name, Scopes: scopes,
		Tokens: []runtimeconfig.TokenHash{{SHA256: runtimeconfig.HashToken(tok)}}}
}

// projection writes documents the way the kubelet projects a ConfigMap or
// Secret volume: each file is a link through ..data to a timestamped
// folder, and an update swaps ..data atomically with a rename.
type projection struct {
	dir string
	n   int
}

func newProjection(t *testing.T, files map[string][]byte) *projection {
	t.Helper()
	p := &projection{dir: t.TempDir()}
	p.update(t, files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(p.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *projection) update(t *testing.T, files map[string][]byte) {
	t.Helper()
	p.n++
	ts := fmt.Sprintf("..%d", p.n)
	if err := os.Mkdir(filepath.Join(p.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(p.dir, ts, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(p.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(p.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func (p *projection) path(name string) string { return filepath.Join(p.dir, name) }
