package ratelimit

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/toolclass"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func limitsOf(readRPS float64, readBurst int, writeRPS float64, writeBurst int) runtimeconfig.RateLimits {
	return runtimeconfig.RateLimits{Enabled: true,
		Read:  runtimeconfig.Bucket{RequestsPerSecond: readRPS, Burst: readBurst},
		Write: runtimeconfig.Bucket{RequestsPerSecond: writeRPS, Burst: writeBurst}}
}

// outcome is "ok" or the retry delay of a refusal.
func outcome(err error) string {
	var le *LimitedError
	if errors.As(err, &le) {
		return "retry " + le.RetryAfter.String()
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func TestAllow(t *testing.T) {
	type call struct {
		client string
		class  toolclass.Class
		after  time.Duration
	}
	tests := []struct {
		name  string
		cfg   runtimeconfig.RateLimits
		calls []call
		want  []string
	}{{
		name:  "disabled allows everything",
		cfg:   runtimeconfig.RateLimits{},
		calls: []call{{"a", toolclass.Write, 0}, {"a", toolclass.Write, 0}},
		want:  []string{"ok", "ok"},
	}, {
		name: "burst then refusal with the refill time",
		cfg:  limitsOf(10, 2, 1, 1),
		calls: []call{{"a", toolclass.Read, 0}, {"a", toolclass.Read, 0}, {"a", toolclass.Read, 0},
			{"a", toolclass.Read, 100 * time.Millisecond}},
		want: []string{"ok", "ok", "retry 100ms", "ok"},
	}, {
		name:  "classes and clients have separate buckets",
		cfg:   limitsOf(10, 1, 1, 1),
		calls: []call{{"a", toolclass.Write, 0}, {"a", toolclass.Read, 0}, {"b", toolclass.Write, 0}, {"a", toolclass.Write, 0}},
		want:  []string{"ok", "ok", "ok", "retry 1s"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1000, 0)}
			l := New(Options{Now: c.now})
			l.Apply(tt.cfg)
			var got []string
			for _, call := range tt.calls {
				c.t = c.t.Add(call.after)
				got = append(got, outcome(l.Allow(call.client, call.class)))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyChangesExistingBuckets(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(Options{Now: c.now})
	l.Apply(limitsOf(100, 100, 100, 100))
	if err := l.Allow("a", toolclass.Write); err != nil {
		t.Fatal(err)
	}
	// The incident profile: one write per second, burst one.
	l.Apply(limitsOf(10, 1, 1, 1))
	got := []string{outcome(l.Allow("a", toolclass.Write)), outcome(l.Allow("a", toolclass.Write))}
	if diff := cmp.Diff([]string{"ok", "retry 1s"}, got); diff != "" {
		t.Errorf("outcomes after the limit change (-want +got):\n%s", diff)
	}
}

func TestSweepForgetsOnlyRefilledBuckets(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(Options{Now: c.now})
	l.Apply(limitsOf(1, 2, 1, 2))
	for i := range 100 {
		if err := l.Allow(fmt.Sprint("client-", i), toolclass.Read); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Sweep(); got != 0 {
		t.Errorf("swept %d buckets still refilling, want 0", got)
	}
	c.t = c.t.Add(time.Second)
	if got := l.Sweep(); got != 100 {
		t.Errorf("swept %d refilled buckets, want 100", got)
	}
	if got := l.Len(); got != 0 {
		t.Errorf("Len() = %d after the sweep, want 0", got)
	}
}

func TestMaxBucketsBoundsMemory(t *testing.T) {
	l := New(Options{MaxBuckets: shardCount * 4})
	l.Apply(limitsOf(1, 5, 1, 5))
	for i := range 10_000 {
		_ = l.Allow(fmt.Sprint("client-", i), toolclass.Read)
	}
	if got := l.Len(); got > shardCount*4 {
		t.Errorf("Len() = %d, want at most %d", got, shardCount*4)
	}
}

// BenchmarkMillionClients reports the heap held by one million distinct
// client buckets.
func BenchmarkMillionClients(b *testing.B) {
	names := make([]string, 1_000_000)
	for i := range names {
		names[i] = fmt.Sprintf("client-%07d", i)
	}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		l := New(Options{})
		l.Apply(limitsOf(10, 20, 1, 5))
		for _, n := range names {
			_ = l.Allow(n, toolclass.Read)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc), "heap-bytes")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(names)), "bytes/bucket")
		runtime.KeepAlive(l)
	}
}

// BenchmarkAllow is the per-call cost of the limiter.
func BenchmarkAllow(b *testing.B) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprint("client-", i)
	}
	l := New(Options{})
	l.Apply(limitsOf(1e9, 1e9, 1e9, 1e9))
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = l.Allow(names[i%len(names)], toolclass.Read)
			i++
		}
	})
}
