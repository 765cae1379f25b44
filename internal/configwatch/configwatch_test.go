package configwatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

type recorder struct {
	mu     sync.Mutex
	events []string
}

// Record keeps "result generation incident_mode reason" of config_change
// events about the config.
func (r *recorder) Record(_ context.Context, e audit.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Operation != audit.OpConfigChange {
		return
	}
	s := e.Result
	for _, k := range []string{"document", "generation", "incident_mode", "reason"} {
		if v, ok := e.Metadata[k]; ok {
			s += fmt.Sprintf(" %s=%v", k, v)
		}
	}
	r.events = append(r.events, s)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func render(t *testing.T, gen int64, incident string) []byte {
	t.Helper()
	cfg := runtimeconfig.Default()
	cfg.Generation = gen
	if incident != "" {
		cfg.Incident = &runtimeconfig.Incident{Reason: incident}
	}
	b, err := runtimeconfig.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func renderCredentials(t *testing.T, clients ...string) []byte {
	t.Helper()
	c := &runtimeconfig.Credentials{SchemaVersion: runtimeconfig.SchemaVersion}
	for _, name := range clients {
		c.Clients = append(c.Clients, runtimeconfig.ClientCredentials{Name: name,
			Tokens: []runtimeconfig.TokenHash{{SHA256: runtimeconfig.HashToken("mmcp_" + name)}}})
	}
	b, err := runtimeconfig.MarshalCredentials(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mount mimics the kubelet's projection of a ConfigMap or Secret: files are
// links through ..data, which an update swaps atomically to a new folder.
type mount struct {
	t   *testing.T
	dir string
	n   int
}

func (m *mount) write(docs map[string][]byte) {
	m.t.Helper()
	m.n++
	ts := filepath.Join(m.dir, fmt.Sprintf("..2026_03_01_12_00_%02d", m.n))
	must(m.t, os.Mkdir(ts, 0o755))
	for name, data := range docs {
		must(m.t, os.WriteFile(filepath.Join(ts, name), data, 0o644))
		link := filepath.Join(m.dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			must(m.t, os.Symlink(filepath.Join("..data", name), link))
		}
	}
	tmp := filepath.Join(m.dir, "..data_tmp")
	must(m.t, os.Symlink(filepath.Base(ts), tmp))
	must(m.t, os.Rename(tmp, filepath.Join(m.dir, "..data")))
	if m.n > 1 {
		must(m.t, os.RemoveAll(filepath.Join(m.dir, fmt.Sprintf("..2026_03_01_12_00_%02d", m.n-1))))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFilesFollowKubeletSymlinkSwap(t *testing.T) {
	m := &mount{t: t, dir: t.TempDir()}
	m.write(map[string][]byte{runtimeconfig.ConfigKey: render(t, 1, ""),
		runtimeconfig.CredentialsKey: renderCredentials(t, "a")})
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	w, err := New(Options{ConfigFile: filepath.Join(m.dir, runtimeconfig.ConfigKey),
		CredentialsFile: filepath.Join(m.dir, runtimeconfig.CredentialsKey), Auditor: rec, Registerer: reg})
	must(t, err)
	var applied []int64
	var mu sync.Mutex
	w.OnConfig(func(c *runtimeconfig.Config) error {
		mu.Lock()
		defer mu.Unlock()
		applied = append(applied, c.Generation)
		return nil
	})
	must(t, w.Start(t.Context()))
	if w.Config().Generation != 1 || len(w.Credentials().Clients) != 1 {
		t.Fatalf("initial documents not read: generation %d", w.Config().Generation)
	}

	m.write(map[string][]byte{runtimeconfig.ConfigKey: render(t, 2, "credential leak"),
		runtimeconfig.CredentialsKey: renderCredentials(t, "a", "b")})
	await(t, "generation 2", func() bool { return w.Config().Generation == 2 && len(w.Credentials().Clients) == 2 })
	if got := testutil.ToFloat64(w.metrics.incident); got != 1 {
		t.Errorf("memory_mcp_incident_mode = %v, want 1", got)
	}

	// An invalid document is refused; generation 2 stays in force.
	m.write(map[string][]byte{runtimeconfig.ConfigKey: []byte(`{"schemaVersion":"v0"}`),
		runtimeconfig.CredentialsKey: renderCredentials(t, "a", "b")})
	await(t, "the refusal", func() bool { return testutil.ToFloat64(w.metrics.failures.WithLabelValues("config")) == 1 })
	if w.Config().Generation != 2 || testutil.ToFloat64(w.metrics.generation) != 2 {
		t.Errorf("generation after an invalid document = %d", w.Config().Generation)
	}

	m.write(map[string][]byte{runtimeconfig.ConfigKey: render(t, 3, ""),
		runtimeconfig.CredentialsKey: renderCredentials(t, "a", "b")})
	await(t, "generation 3", func() bool { return w.Config().Generation == 3 })

	want := []string{
		"success document=config generation=1", "success document=credentials",
		"success document=config generation=2",
		"success document=config generation=2 incident_mode=true reason=credential leak",
		"success document=credentials",
		"failure document=config",
		"success document=config generation=3",
		"success document=config generation=3 incident_mode=false",
	}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("config_change events (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]int64{1, 2, 3}, applied); diff != "" {
		t.Errorf("subscriber saw (-want +got):\n%s", diff)
	}
}

func TestStartWithoutSource(t *testing.T) {
	w, err := New(Options{})
	must(t, err)
	if err := w.Start(t.Context()); err == nil {
		t.Error("Start without any source succeeded")
	}
}

func testutilFailures(w *Watcher) float64 {
	return testutil.ToFloat64(w.metrics.failures.WithLabelValues("config"))
}
