// Package argocd tests the Argo CD health check of MemoryMCP objects by
// running the Lua script, as Argo CD does, against status fixtures.
package argocd

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
	"github.com/memorymcp/memory-mcp-operator/internal/testtools"
)

const healthKey = "resource.customizations.health.memorymcp.io_MemoryMCP"

func scriptPath() string {
	return filepath.Join(envtestutil.RepoRoot(), "docs", "argocd", "health.lua")
}

// assess runs the health script with obj bound as Argo CD binds it.
func assess(t *testing.T, script string, obj map[string]any) (status, message string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("running the health script: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the health script returned %s, want a table", L.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

// toLua converts decoded JSON to Lua values the way Argo CD's Lua bridge
// does: objects and arrays become tables, numbers become Lua numbers.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case map[string]any:
		tbl := L.NewTable()
		for k, e := range v {
			tbl.RawSetString(k, toLua(L, e))
		}
		return tbl
	case []any:
		tbl := L.NewTable()
		for _, e := range v {
			tbl.Append(toLua(L, e))
		}
		return tbl
	default:
		panic(fmt.Sprintf("unexpected JSON value %T", v))
	}
}

func readFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return obj
}

func TestHealth(t *testing.T) {
	script, err := os.ReadFile(scriptPath())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fixture, status, message string
	}{
		{"healthy.yaml", "Healthy", "1 of 1 replicas ready, config generation 3"},
		{"no-status.yaml", "Progressing", "Waiting for the operator to report status"},
		{"empty-conditions.yaml", "Progressing", "Waiting for the operator to report status"},
		{"stale-generation.yaml", "Progressing", "Waiting for the operator to observe generation 4"},
		{"progressing.yaml", "Progressing", "Waiting for the Deployment to roll out"},
		{"ready-false-waiting.yaml", "Progressing", "0 of 1 replicas ready"},
		{"pods-not-ready.yaml", "Progressing", "0 of 1 replicas ready"},
		{"degraded.yaml", "Degraded", "applying the NetworkPolicy: forbidden"},
		{"pods-never-ready.yaml", "Degraded", "ReplicaSet \"agent-memory-7d9f\" has timed out progressing."},
		{"ready-false-failure.yaml", "Degraded", "pod agent-memory-7d9f is crash looping"},
		{"incident.yaml", "Healthy", "Incident mode active: suspected credential leak"},
		{"incident-pending.yaml", "Progressing",
			"Incident mode requested; the emergency profile is not applied yet"},
		{"incident-leaving.yaml", "Progressing",
			"Incident mode turned off; the normal profile is not restored yet"},
		{"scaled-to-zero.yaml", "Suspended", "Scaled to zero replicas"},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.fixture, ".yaml"), func(t *testing.T) {
			status, message := assess(t, string(script), readFixture(t, c.fixture))
			if status != c.status || message != c.message {
				t.Errorf("got %s %q, want %s %q", status, message, c.status, c.message)
			}
		})
	}
}

// Every fixture is covered by a case, so a fixture added without an
// expectation does not go unchecked.
func TestEveryFixtureHasACase(t *testing.T) {
	src, err := os.ReadFile("health_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		if !strings.Contains(string(src), `"`+filepath.Base(f)+`"`) {
			t.Errorf("testdata/%s has no case in TestHealth", filepath.Base(f))
		}
	}
}

// Argo CD runs the copy in the argocd-cm patch; it must be this script.
func TestArgoCDConfigMapCarriesScript(t *testing.T) {
	script, err := os.ReadFile(scriptPath())
	if err != nil {
		t.Fatal(err)
	}
	patch := filepath.Join(envtestutil.RepoRoot(), "config", "argocd", "argocd-cm-patch.yaml")
	data, err := os.ReadFile(patch)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data[healthKey] != string(script) {
		t.Errorf("config/argocd/argocd-cm-patch.yaml does not carry docs/argocd/health.lua; run `make argocd-health`")
	}
}

// The example Applications follow the documented guidance: server-side
// apply, and the operator's wave ahead of the MemoryMCP objects'.
func TestExampleApplications(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(envtestutil.RepoRoot(), "docs", "argocd", "application.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	waves := map[string]string{}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var app struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name        string            `json:"name"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				SyncPolicy struct {
					SyncOptions []string `json:"syncOptions"`
				} `json:"syncPolicy"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &app); err != nil {
			t.Fatal(err)
		}
		if app.Kind != "Application" {
			t.Errorf("unexpected kind %q", app.Kind)
			continue
		}
		if !slices.Contains(app.Spec.SyncPolicy.SyncOptions, "ServerSideApply=true") {
			t.Errorf("Application %s does not sync with ServerSideApply=true", app.Metadata.Name)
		}
		waves[app.Metadata.Name] = app.Metadata.Annotations["argocd.argoproj.io/sync-wave"]
	}
	if waves["memory-mcp-operator"] != "0" || waves["agent-memory"] != "1" {
		t.Errorf("sync waves = %v, want the operator at 0 and MemoryMCPs at 1", waves)
	}
}

// foreignReasonFixtures use condition reasons this operator never writes, to
// check the script's fallbacks for reasons of other or later versions.
var foreignReasonFixtures = []string{"ready-false-failure.yaml", "ready-false-waiting.yaml"}

// controllerReasons are the values of the Reason* constants the controller
// sets on conditions, read from its source so a renamed or added reason
// reaches the fixtures.
func controllerReasons(t *testing.T) map[string]bool {
	t.Helper()
	path := filepath.Join(envtestutil.RepoRoot(), "controllers", "status.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if !strings.HasPrefix(name.Name, "Reason") || !ok || lit.Kind != token.STRING {
				continue
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			reasons[v] = true
		}
		return true
	})
	if len(reasons) == 0 {
		t.Fatalf("no Reason constants in %s", path)
	}
	return reasons
}

// The fixtures describe status the controller really writes: a fixture
// with an invented reason tests a branch no MemoryMCP ever takes and leaves
// the real one unchecked.
func TestFixturesUseControllerReasons(t *testing.T) {
	reasons := controllerReasons(t)
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		name := filepath.Base(f)
		if slices.Contains(foreignReasonFixtures, name) {
			continue
		}
		var obj struct {
			Status struct {
				Conditions []struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"conditions"`
			} `json:"status"`
		}
		data, err := yaml.Marshal(readFixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &obj); err != nil {
			t.Fatal(err)
		}
		for _, c := range obj.Status.Conditions {
			if !reasons[c.Reason] {
				t.Errorf("%s: condition %s has reason %q, which controllers/status.go does not declare",
					name, c.Type, c.Reason)
			}
		}
	}
}

// The kustomize overlay for Argo CD, built over this tree's config/default
// instead of the release it names: the CRD goes first and the manager runs
// a released image, not config/default's placeholder.
func TestCRDSyncWaveOverlay(t *testing.T) {
	root := envtestutil.RepoRoot()
	data, err := os.ReadFile(filepath.Join(root, "docs", "argocd", "crd-sync-wave.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const remote = "https://github.com/memorymcp/memory-mcp-operator/config/default?ref=v0.1.0"
	if !strings.Contains(string(data), remote) {
		t.Fatalf("docs/argocd/crd-sync-wave.yaml no longer builds on %s; update this test", remote)
	}
	dir := t.TempDir()
	// kustomize refuses absolute roots; a relative one may leave the folder.
	base, err := filepath.Rel(dir, filepath.Join(root, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	local := strings.Replace(string(data), remote, base, 1)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testtools.Kustomize(t), "build", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, out)
	}

	var crdWave string
	var images []string
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Image string `json:"image"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		switch obj.Kind {
		case "CustomResourceDefinition":
			crdWave = obj.Metadata.Annotations["argocd.argoproj.io/sync-wave"]
		case "Deployment":
			for _, c := range obj.Spec.Template.Spec.Containers {
				images = append(images, c.Image)
			}
		}
	}
	if crdWave != "-1" {
		t.Errorf("the CRD's sync wave = %q, want -1", crdWave)
	}
	if len(images) == 0 {
		t.Fatal("the overlay renders no manager Deployment")
	}
	for _, img := range images {
		if !strings.HasPrefix(img, "ghcr.io/memorymcp/memory-mcp-operator:") {
			t.Errorf("the manager runs image %q, want a released ghcr.io/memorymcp/memory-mcp-operator tag", img)
		}
	}
}
