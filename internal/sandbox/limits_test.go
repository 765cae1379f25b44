package sandbox

import (
	"errors"
	"testing"
	"time"
)

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(*Limits)
		wantErr bool
	}{
		{name: "defaults are valid", change: func(*Limits) {}},
		{name: "zero queue timeout refuses at once", change: func(l *Limits) { l.QueueTimeout = 0 }},
		{name: "memory below one page", change: func(l *Limits) { l.MemoryBytes = PageSize - 1 }, wantErr: true},
		{name: "memory above the ceiling", change: func(l *Limits) { l.MemoryBytes = MemoryCeilingBytes + 1 }, wantErr: true},
		{name: "zero timeout", change: func(l *Limits) { l.Timeout = 0 }, wantErr: true},
		{name: "hour-long timeout", change: func(l *Limits) { l.Timeout = time.Hour }, wantErr: true},
		{name: "zero output", change: func(l *Limits) { l.MaxOutputBytes = 0 }, wantErr: true},
		{name: "zero module size", change: func(l *Limits) { l.MaxModuleBytes = 0 }, wantErr: true},
		{name: "zero concurrency", change: func(l *Limits) { l.MaxConcurrency = 0 }, wantErr: true},
		{name: "negative queue timeout", change: func(l *Limits) { l.QueueTimeout = -time.Second }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := DefaultLimits()
			tt.change(&l)
			err := l.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidLimits) {
				t.Errorf("Validate() = %v, want it to wrap ErrInvalidLimits", err)
			}
		})
	}
}

func TestRunOptionsNarrowOnly(t *testing.T) {
	t.Parallel()
	base := DefaultLimits()
	tests := []struct {
		name string
		opts RunOptions
		want time.Duration
	}{
		{name: "zero keeps the limit", want: base.Timeout},
		{name: "narrower applies", opts: RunOptions{Timeout: time.Second}, want: time.Second},
		{name: "wider is clamped", opts: RunOptions{Timeout: time.Hour}, want: base.Timeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.opts.narrow(base).Timeout; got != tt.want {
				t.Errorf("timeout = %s, want %s", got, tt.want)
			}
		})
	}
}
