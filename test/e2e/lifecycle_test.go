package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/localrun"
)

const (
	namespace = "e2e"
	sample    = "agent-memory"
	client    = "planner"
)

func TestIncidentModeAndRotationThroughTheRealBinaries(t *testing.T) {
	ctx := context.Background()
	kubectl(t, "create", "namespace", namespace)
	kubectl(t, "apply", "-n", namespace, "-f", "config/samples/memorymcp_v1alpha1_memorymcp.yaml")
	eventually(t, time.Minute, "the operator reconciles the sample", func() error {
		_, err := kubectlErr("get", "-n", namespace, "deployment/"+sample, "secret/"+sample+"-client-"+client)
		return err
	})
	if out := kubectl(t, "get", "mmcp", "-n", namespace); !strings.Contains(out, "READY") ||
		!strings.Contains(out, "INCIDENT") || !strings.Contains(out, "ENDPOINT") {
		t.Errorf("kubectl get mmcp lacks the printer columns:\n%s", out)
	}

	server := startServer(t)
	token, err := localrun.ClientToken(ctx, env.cfg, namespace, sample, client)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the server accepts the client's token", func() error {
		return callTool(ctx, server, token, "health_check", map[string]any{})
	})
	if tools := listTools(t, server, token); !slices.Contains(tools, "execute_agent_code") {
		t.Fatalf("execute_agent_code missing before the incident: %v", tools)
	}

	template := kubectl(t, "get", "-n", namespace, "deployment/"+sample, "-o", "jsonpath={.spec.template}")
	start := time.Now()
	kubectl(t, "patch", "-n", namespace, "mmcp", sample, "--type", "merge", "-p", `{"spec":{"incidentMode":true}}`)
	eventually(t, 10*time.Second, "the server enforces incident mode", func() error {
		return gaugeIs(server, "memory_mcp_incident_mode", 1)
	})
	t.Logf("incident mode propagated from kubectl patch to the running server in %s", time.Since(start))

	if tools := listTools(t, server, token); slices.Contains(tools, "execute_agent_code") {
		t.Errorf("execute_agent_code still listed in incident mode: %v", tools)
	}
	if err := callTool(ctx, server, token, "execute_agent_code",
		map[string]any{"module_base64": "AGFzbQEAAAA=", "input": map[string]any{}}); err == nil {
		t.Error("execute_agent_code accepted in incident mode")
	}
	cond := kubectl(t, "get", "-n", namespace, "mmcp", sample, "-o",
		`jsonpath={.status.conditions[?(@.type=="IncidentModeActive")].status}`)
	if cond != "True" {
		t.Errorf("IncidentModeActive = %q, want True", cond)
	}
	if after := kubectl(t, "get", "-n", namespace, "deployment/"+sample, "-o",
		"jsonpath={.spec.template}"); after != template {
		t.Error("incident mode changed the pod template: pods would restart")
	}

	start = time.Now()
	kubectl(t, "patch", "-n", namespace, "mmcp", sample, "--type", "merge", "-p", `{"spec":{"incidentMode":false}}`)
	eventually(t, 10*time.Second, "the server restores the normal profile", func() error {
		return gaugeIs(server, "memory_mcp_incident_mode", 0)
	})
	t.Logf("normal profile restored from kubectl patch to the running server in %s", time.Since(start))
	if tools := listTools(t, server, token); !slices.Contains(tools, "execute_agent_code") {
		t.Errorf("execute_agent_code not restored after the incident: %v", tools)
	}

	testForcedRotation(t, server, token)
}

// testForcedRotation rotates through the annotation and shows both tokens
// work during the grace period, with no restart of the server.
func testForcedRotation(t *testing.T, server *localrun.Server, oldToken string) {
	ctx := context.Background()
	kubectl(t, "annotate", "-n", namespace, "mmcp", sample, "memorymcp.io/rotate-credentials=e2e-1")
	var newToken string
	eventually(t, 30*time.Second, "the client secret holds a new token", func() error {
		tok, err := localrun.ClientToken(ctx, env.cfg, namespace, sample, client)
		if err != nil {
			return err
		}
		if tok == oldToken {
			return fmt.Errorf("token not rotated yet")
		}
		newToken = tok
		return nil
	})
	eventually(t, 10*time.Second, "the server accepts the new token", func() error {
		return callTool(ctx, server, newToken, "health_check", map[string]any{})
	})
	if err := callTool(ctx, server, oldToken, "health_check", map[string]any{}); err != nil {
		t.Errorf("the previous token was cut off during its grace period: %v", err)
	}
}

func startServer(t *testing.T) *localrun.Server {
	t.Helper()
	dir := t.TempDir()
	server, err := localrun.Prepare(context.Background(), env.cfg, localrun.Options{
		Namespace: namespace, Name: sample, StateDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := startProcess(filepath.Join(dir, "server.log"), filepath.Join(env.bin, "mcp-server"), server.Args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if err := localrun.WaitReady(context.Background(), server, time.Minute); err != nil {
		t.Fatalf("%v; server log in %s", err, dir)
	}
	return server
}

func kubectlErr(args ...string) (string, error) {
	cmd := execKubectl(args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %v: %w: %s", args, err, out)
	}
	return string(out), nil
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func connect(ctx context.Context, server *localrun.Server, token string) (*mcp.ClientSession, error) {
	transport := &mcp.StreamableClientTransport{
		Endpoint:   server.Endpoint,
		HTTPClient: &http.Client{Transport: bearer{token}},
		MaxRetries: -1,
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "v0"}, nil)
	return c.Connect(ctx, transport, nil)
}

// callTool returns an error when the call fails or its result is an error.
func callTool(ctx context.Context, server *localrun.Server, token, name string, args map[string]any) error {
	s, err := connect(ctx, server, token)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("%s returned an error result: %v", name, res.Content)
	}
	return nil
}

func listTools(t *testing.T, server *localrun.Server, token string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := connect(ctx, server, token)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(res.Tools))
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// gaugeIs reads an unlabelled gauge from the server's /metrics.
func gaugeIs(server *localrun.Server, name string, want float64) error {
	resp, err := http.Get(server.OpsURL + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		value, ok := strings.CutPrefix(sc.Text(), name+" ")
		if !ok {
			continue
		}
		got, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s = %v, want %v", name, got, want)
		}
		return nil
	}
	return fmt.Errorf("%s not exported", name)
}
