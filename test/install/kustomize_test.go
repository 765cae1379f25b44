package install

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/memorymcp/memory-mcp-operator/internal/testtools"
)

// The parts build on their own, role.yaml or not.
func TestKustomizeParts(t *testing.T) {
	kustomize := testtools.Kustomize(t)
	for _, dir := range []string{"config/crd", "config/manager"} {
		t.Run(dir, func(t *testing.T) {
			out, err := run(kustomize, "build", dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(decodeAll(t, out)) == 0 {
				t.Fatalf("%s renders nothing", dir)
			}
		})
	}
}

// buildInstaller runs what `make build-installer` runs, into a temporary
// file, and returns the objects.
func buildInstaller(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	requireRoleYAML(t)
	kustomize := testtools.Kustomize(t)
	output := filepath.Join(t.TempDir(), "install.yaml")
	cmd := repoPath("hack", "build-installer.sh")
	if out, err := runEnv([]string{"KUSTOMIZE=" + kustomize}, cmd,
		"example.com/mmcp/manager:v9", "example.com/mmcp/server:v9", output); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, string(data))
}

func TestBuildInstaller(t *testing.T) {
	before, err := run("git", "status", "--porcelain", "--", "config", "charts")
	if err != nil {
		t.Fatal(err)
	}
	objs := buildInstaller(t)

	after, err := run("git", "status", "--porcelain", "--", "config", "charts")
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("building the installer changed the tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	deploy := find(objs, "Deployment", "controller-manager")
	if deploy == nil || deploy.GetNamespace() != "memory-mcp-system" ||
		deploy.GetName() != "memory-mcp-operator-controller-manager" {
		t.Fatalf("manager Deployment missing or misnamed: %v", deploy)
	}
	c := containerOf(t, []*unstructured.Unstructured{deploy})
	if c["image"] != "example.com/mmcp/manager:v9" {
		t.Errorf("manager image = %v, want example.com/mmcp/manager:v9", c["image"])
	}
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	if !slices.Contains(args, "--server-image=example.com/mmcp/server:v9") {
		t.Errorf("args %v lack --server-image=example.com/mmcp/server:v9", args)
	}
	checkHardenedManager(t, objs)
	for _, kind := range []string{"CustomResourceDefinition", "Namespace", "ServiceAccount",
		"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service"} {
		if find(objs, kind, "") == nil {
			t.Errorf("install.yaml has no %s", kind)
		}
	}
}
