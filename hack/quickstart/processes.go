package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// processes are the quickstart's children: each logs to a file in dir and
// is stopped, with SIGTERM and then SIGKILL, when the quickstart ends.
type processes struct {
	dir      string
	children []child
	// exited receives an error when a child ends before the quickstart.
	exited chan error
}

type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *processes) start(ctx context.Context, name, path string, args ...string) error {
	if p.exited == nil {
		p.exited = make(chan error, 8)
	}
	logPath := filepath.Join(p.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("creating %s: %w", logPath, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A child in its own process group does not get the terminal's Ctrl-C
	// before the quickstart stops it in order; Pdeathsig stops it should the
	// quickstart itself be killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	c := child{cmd: cmd, done: make(chan struct{})}
	p.children = append(p.children, c)
	go func() {
		err := cmd.Wait()
		close(c.done)
		if ctx.Err() == nil {
			p.exited <- fmt.Errorf("%s exited: %w (see %s)", name, err, logPath)
		}
		if cerr := logFile.Close(); cerr != nil {
			fmt.Fprintln(os.Stderr, "quickstart: closing", logPath+":", cerr)
		}
	}()
	return nil
}

// stopAll stops the children in reverse order of their start.
func (p *processes) stopAll() {
	for i := len(p.children) - 1; i >= 0; i-- {
		c := p.children[i]
		// Signalling a process that already exited fails harmlessly.
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}
