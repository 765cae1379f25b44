package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var shellBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

// runbookCommands returns the lines of the runbook's shell blocks that run
// name.
func runbookCommands(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(repoPath("docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, block := range shellBlock.FindAllStringSubmatch(string(data), -1) {
		for _, line := range strings.Split(block[1], "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, name+" ") {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}

// Every memory-cli command of the runbook names a command the CLI has and
// flags it accepts: cobra refuses an unknown flag even with --help, and
// prints a parent's command list for an unknown subcommand.
func TestRunbookCLICommands(t *testing.T) {
	cmds := runbookCommands(t, "memory-cli")
	if len(cmds) < 3 {
		t.Fatalf("found %d memory-cli commands in docs/runbook.md, want several", len(cmds))
	}
	bin := t.TempDir()
	if _, err := runEnv([]string{"CGO_ENABLED=0"}, "go", "build", "-o", filepath.Join(bin, "memory-cli"),
		"./cmd/memory-cli"); err != nil {
		t.Fatal(err)
	}
	for _, line := range cmds {
		t.Run(line, func(t *testing.T) {
			cmd := exec.Command("bash", "-c", "NS=agents MMCP=agent-memory; "+line+" --help")
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("memory-cli refuses the runbook's command: %v\n%s", err, out)
			}
			if strings.Contains(string(out), "Available Commands:") {
				t.Errorf("the runbook's command names no runnable memory-cli command:\n%s", out)
			}
		})
	}
}
