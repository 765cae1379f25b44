package sandbox

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// outcome is the part of a run a test compares.
type outcome struct {
	ExitCode int
	LimitHit LimitKind
	Stdout   map[string]any // stdout decoded as one JSON object, when it is one
	Trapped  bool
}

func outcomeOf(res *Result) outcome {
	o := outcome{ExitCode: res.ExitCode, LimitHit: res.LimitHit, Trapped: res.Trap != ""}
	var decoded map[string]any
	if json.Unmarshal(res.Stdout, &decoded) == nil {
		o.Stdout = decoded
	}
	return o
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		module  []byte
		input   string
		limits  func(*Limits)
		want    outcome
		wantErr error
		// check looks at what outcome does not cover.
		check func(t *testing.T, res *Result)
	}{
		{
			name:   "json transform returns its result",
			module: guests["jsontransform"],
			input:  `{"numbers": [1, 2, 3.5]}`,
			want:   outcome{Stdout: map[string]any{"count": 3.0, "sum": 6.5}},
		},
		{
			name:   "non-zero exit is a result, not an error",
			module: guests["exitcode"],
			want:   outcome{ExitCode: 3},
			check: func(t *testing.T, res *Result) {
				if !strings.Contains(string(res.Stderr), "giving up on purpose") {
					t.Errorf("stderr = %q, want the guest's diagnostic", res.Stderr)
				}
			},
		},
		{
			name:   "opening a file fails inside the guest",
			module: guests["openfile"],
			check:  wantGuestFailure,
		},
		{
			name:   "accepting on a socket fails inside the guest",
			module: guests["sockets"],
			check:  wantGuestFailure,
		},
		{
			name:    "infinite loop ends at the time limit",
			module:  guests["spin"],
			limits:  func(l *Limits) { l.Timeout = 200 * time.Millisecond },
			want:    outcome{ExitCode: -1, LimitHit: LimitTimeout},
			wantErr: &LimitError{Limit: LimitTimeout},
		},
		{
			name:    "sleep ends at the time limit",
			module:  guests["sleep"],
			limits:  func(l *Limits) { l.Timeout = 200 * time.Millisecond },
			want:    outcome{ExitCode: -1, LimitHit: LimitTimeout},
			wantErr: &LimitError{Limit: LimitTimeout},
		},
		{
			name:    "memory bomb ends at the memory limit",
			module:  guests["membomb"],
			limits:  func(l *Limits) { l.MemoryBytes = 64 << 20 },
			want:    outcome{ExitCode: 2, LimitHit: LimitMemory},
			wantErr: &LimitError{Limit: LimitMemory},
		},
		{
			name:    "output flood is cut at the cap",
			module:  guests["flood"],
			limits:  func(l *Limits) { l.MaxOutputBytes = 64 << 10 },
			want:    outcome{ExitCode: -1, LimitHit: LimitOutput},
			wantErr: &LimitError{Limit: LimitOutput},
			check: func(t *testing.T, res *Result) {
				if len(res.Stdout) != 64<<10 {
					t.Errorf("kept %d bytes of stdout, want exactly the cap %d", len(res.Stdout), 64<<10)
				}
			},
		},
		{
			name:    "malformed module",
			module:  []byte("#!/bin/sh\nrm -rf /\n"),
			want:    outcome{ExitCode: -1},
			wantErr: ErrInvalidModule,
		},
		{
			name:    "oversized module is refused before compiling",
			module:  guests["jsontransform"],
			limits:  func(l *Limits) { l.MaxModuleBytes = 1 << 20 },
			want:    outcome{ExitCode: -1, LimitHit: LimitModuleSize},
			wantErr: &LimitError{Limit: LimitModuleSize},
		},
		{
			name:    "module without _start",
			module:  libraryModule(),
			want:    outcome{ExitCode: -1},
			wantErr: ErrInvalidModule,
		},
		{
			name:    "import from env is forbidden",
			module:  importingModule("env", "system"),
			want:    outcome{ExitCode: -1},
			wantErr: ErrForbiddenImport,
		},
		{
			name:    "socket function beyond WASI preview 1 is forbidden",
			module:  importingModule("wasi_snapshot_preview1", "sock_open"),
			want:    outcome{ExitCode: -1},
			wantErr: ErrForbiddenImport,
		},
		{
			name:    "initial memory above the limit never starts",
			module:  memoryModule(2048),
			limits:  func(l *Limits) { l.MemoryBytes = 64 << 20 },
			want:    outcome{ExitCode: -1, LimitHit: LimitMemory},
			wantErr: &LimitError{Limit: LimitMemory},
		},
		{
			// 2^24 entries take 128 MiB of host memory, which linear
			// memory limits do not see.
			name:    "table above the memory limit never starts",
			module:  tableModule(1 << 24),
			limits:  func(l *Limits) { l.MemoryBytes = 64 << 20 },
			want:    outcome{ExitCode: -1, LimitHit: LimitMemory},
			wantErr: &LimitError{Limit: LimitMemory},
		},
		{
			name:   "a table without a maximum cannot grow",
			module: tableGrowModule(1 << 24),
			limits: func(l *Limits) { l.MemoryBytes = 64 << 20 },
			want:   outcome{},
		},
		{
			name:   "hand-assembled command writes stdout",
			module: helloModule(""),
			want:   outcome{Stdout: map[string]any{"ok": true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limits := DefaultLimits()
			if tt.limits != nil {
				tt.limits(&limits)
			}
			r := newTestRunner(t, limits)

			res, err := r.Run(t.Context(), tt.module, []byte(tt.input))
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Run error = %v, want %v", err, tt.wantErr)
			}
			if res == nil {
				t.Fatal("Run returned no result")
			}
			var opts []cmp.Option
			if tt.want.Stdout == nil {
				// Only cases that expect JSON on stdout compare it.
				opts = append(opts, cmpopts.IgnoreFields(outcome{}, "Stdout"))
			}
			if diff := cmp.Diff(tt.want, outcomeOf(res), opts...); diff != "" {
				t.Errorf("outcome (-want +got):\n%s\nstderr: %s", diff, res.Stderr)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

// wantGuestFailure checks that a guest ran to completion and reported, as
// JSON on stdout, that what it tried failed.
func wantGuestFailure(t *testing.T, res *Result) {
	t.Helper()
	var report struct{ Outcome, Error string }
	if err := json.Unmarshal(res.Stdout, &report); err != nil {
		t.Fatalf("stdout %q is not the guest's report: %v", res.Stdout, err)
	}
	if report.Outcome != "failed" || report.Error == "" {
		t.Errorf("guest report = %+v, want a failure with its error", report)
	}
	t.Logf("guest saw: %s", report.Error)
}
