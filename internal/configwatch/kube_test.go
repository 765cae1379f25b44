package configwatch

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// TestAPIWatch runs against a real kube-apiserver and etcd.
func TestAPIWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	// Only core objects are needed, so the control plane starts without the
	// MemoryMCP CRD that envtestutil.New installs.
	dir, err := envtestutil.AssetsDir()
	if errors.Is(err, envtestutil.ErrNoAssets) {
		t.Skip(err.Error())
	}
	must(t, err)
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	restCfg, err := env.Start()
	must(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	cs, err := kubernetes.NewForConfig(restCfg)
	must(t, err)
	ctx := t.Context()

	const ns = "default"
	cms, secrets := cs.CoreV1().ConfigMaps(ns), cs.CoreV1().Secrets(ns)
	// A neighbour object that the name selector must keep out.
	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other"},
		Data: map[string]string{runtimeconfig.ConfigKey: string(render(t, 99, ""))}}, metav1.CreateOptions{})
	must(t, err)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "prod-runtime"},
		Data: map[string]string{runtimeconfig.ConfigKey: string(render(t, 1, ""))}}, metav1.CreateOptions{})
	must(t, err)
	sec, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prod-credentials"},
		Data: map[string][]byte{runtimeconfig.CredentialsKey: renderCredentials(t, "a")}}, metav1.CreateOptions{})
	must(t, err)

	rec := &recorder{}
	w, err := New(Options{Client: cs, Namespace: ns, ConfigMap: "prod-runtime", Secret: "prod-credentials",
		Auditor: rec})
	must(t, err)
	must(t, w.Start(ctx))
	if w.Config().Generation != 1 || len(w.Credentials().Clients) != 1 {
		t.Fatalf("initial documents: generation %d, %d clients", w.Config().Generation, len(w.Credentials().Clients))
	}

	cm.Data[runtimeconfig.ConfigKey] = string(render(t, 2, "token leak"))
	cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	must(t, err)
	await(t, "generation 2", func() bool { return w.Config().Generation == 2 })

	cm.Data[runtimeconfig.ConfigKey] = `{"schemaVersion":"memorymcp.io/runtime-config/v1","bogus":1}`
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	must(t, err)
	await(t, "the refusal", func() bool { return testutilFailures(w) == 1 })

	sec.Data[runtimeconfig.CredentialsKey] = renderCredentials(t, "a", "b")
	_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
	must(t, err)
	await(t, "rotated credentials", func() bool { return len(w.Credentials().Clients) == 2 })

	if w.Config().Generation != 2 {
		t.Errorf("generation = %d, want 2 kept after the refusal", w.Config().Generation)
	}
	want := []string{
		"success document=config generation=1", "success document=credentials",
		"success document=config generation=2",
		"success document=config generation=2 incident_mode=true reason=token leak",
		"failure document=config", "success document=credentials",
	}
	got := rec.take()
	// The two informers deliver their first documents in either order.
	if len(got) > 1 && got[0] == "success document=credentials" {
		got[0], got[1] = got[1], got[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config_change events (-want +got):\n%s", diff)
	}
}
