package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"
)

const guestsDir = "testdata/guests"

// guests holds the compiled guest programs by directory name.
var guests = map[string][]byte{}

// sharedCompilation lets every Runner in the tests reuse wazero's machine
// code for the same guest, so each guest is compiled once per test binary.
var sharedCompilation = wazero.NewCompilationCache()

func TestMain(m *testing.M) {
	if err := loadGuests(); err != nil {
		fmt.Fprintln(os.Stderr, "building guest programs:", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// loadGuests builds every guest under testdata/guests with GOOS=wasip1, or
// reuses a build of the same sources from the user cache directory.
func loadGuests() error {
	names, sum, err := guestSources()
	if err != nil {
		return err
	}
	dir, err := guestBuildDir(sum)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, names[len(names)-1])); err != nil {
		if err := buildGuests(names, dir); err != nil {
			return err
		}
	}
	for _, name := range names {
		bin, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		guests[name] = bin
	}
	return nil
}

// guestSources lists the guest names and hashes their sources together
// with the Go version, which also decides the binaries.
func guestSources() ([]string, string, error) {
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	var names []string
	err := filepath.WalkDir(guestsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != guestsDir && filepath.Dir(path) == guestsDir {
			names = append(names, d.Name())
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.ReadFile(path)
		fmt.Fprintf(h, "%s %d\n", path, len(src))
		h.Write(src)
		return err
	})
	sort.Strings(names)
	if len(names) == 0 && err == nil {
		err = fmt.Errorf("no guests under %s", guestsDir)
	}
	return names, hex.EncodeToString(h.Sum(nil))[:16], err
}

func guestBuildDir(sum string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "memory-mcp-operator", "sandbox-guests", sum)
	return dir, os.MkdirAll(dir, 0o755)
}

// buildGuests builds into a temporary directory first, then moves the
// binaries, so an interrupted build never leaves a partial set behind.
func buildGuests(names []string, dir string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // a temporary folder; leftovers are harmless

	args := []string{"build", "-o", tmp + string(filepath.Separator)}
	for _, name := range names {
		args = append(args, "./"+filepath.Join(guestsDir, name))
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	for _, name := range names {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// newTestRunner returns a Runner closed at the end of the test.
func newTestRunner(tb testing.TB, limits Limits, opts ...Option) *Runner {
	tb.Helper()
	opts = append([]Option{WithCompilationCache(sharedCompilation)}, opts...)
	r, err := New(limits, opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.Close(tb.Context()); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return r
}
