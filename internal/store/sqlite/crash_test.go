package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlite"
	"github.com/memorymcp/memory-mcp-operator/internal/store/storetest"
)

// crashChildEnv makes the test binary act as the writer that gets killed.
const crashChildEnv = "MEMORY_MCP_CRASH_CHILD_DB"

// TestMain lets the test binary double as the crash test's child process.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := crashChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// crashChild appends steps forever, printing "ack <seq>" only after each
// AppendStep returned, until it is killed.
func crashChild(path string) error {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	at := time.Now()
	if err := s.CreateEpisode(ctx, storetest.NewEpisode("ep-crash", "crash", at)); err != nil {
		return err
	}
	for {
		st, err := s.AppendStep(ctx, "ep-crash", storetest.NewStep("write", memory.StepSuccess, at))
		if err != nil {
			return err
		}
		if _, err := fmt.Printf("ack %d\n", st.Seq); err != nil {
			return err
		}
	}
}

// TestAcknowledgedStepsSurviveSIGKILL kills a writer mid-stream and checks
// that every step it acknowledged is in the reopened database.
func TestAcknowledgedStepsSurviveSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child: %v", err)
	}

	const killAfter = 50
	acked := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		seq, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack "))
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		acked = seq
		if acked == killAfter {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing child: %v", err)
	}
	_ = cmd.Wait() // the child dies of SIGKILL; its exit status says only that
	if acked < killAfter {
		t.Fatalf("child acknowledged only %d steps before exiting", acked)
	}

	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopening after crash: %v", err)
	}
	defer func() { _ = s.Close() }()
	ep, err := s.GetEpisode(context.Background(), "ep-crash")
	if err != nil {
		t.Fatalf("GetEpisode after crash: %v", err)
	}
	if len(ep.Steps) < acked {
		t.Fatalf("found %d steps after crash, %d were acknowledged", len(ep.Steps), acked)
	}
}
