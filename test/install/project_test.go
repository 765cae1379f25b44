package install

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
	"github.com/memorymcp/memory-mcp-operator/internal/testtools"
)

// TestKubebuilderAcceptsProject runs kubebuilder v4 over a copy of the tree:
// it must read PROJECT, resolve its plugin chain and edit the project without
// complaint, and PROJECT must come out as it went in.
func TestKubebuilderAcceptsProject(t *testing.T) {
	kubebuilder := testtools.Kubebuilder(t)
	dir := t.TempDir()
	archive := exec.Command("sh", "-c", "git archive --format=tar HEAD | tar -x -C "+dir)
	archive.Dir = envtestutil.RepoRoot()
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("copying the tree: %v\n%s", err, out)
	}
	before, err := os.ReadFile(dir + "/PROJECT")
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(kubebuilder, "edit", "--multigroup=false")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubebuilder refused the project: %v\n%s", err, out)
	}
	after, err := os.ReadFile(dir + "/PROJECT")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("kubebuilder rewrote PROJECT:\n%s", after)
	}
}
