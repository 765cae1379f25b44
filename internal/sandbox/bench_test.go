package sandbox

import (
	"fmt"
	"testing"
	"time"
)

// benchModules are the programs benchmarked: the smallest possible command,
// and a Go program, whose runtime start-up dominates its cached runs.
var benchModules = []struct {
	name   string
	module func(tag string) []byte
	input  []byte
}{
	{name: "hello", module: helloModule},
	{name: "go-json", module: taggedGuest("jsontransform"), input: []byte(`{"numbers": [1, 2, 3]}`)},
}

// taggedGuest appends a custom section, which changes the module's hash
// and nothing else, so every tag is a cache miss.
func taggedGuest(name string) func(tag string) []byte {
	return func(tag string) []byte {
		module := append([]byte(nil), guests[name]...)
		if tag == "" {
			return module
		}
		return append(module, section(secCustom, cat(wname("tag"), []byte(tag)))...)
	}
}

func benchLimits() Limits {
	limits := DefaultLimits()
	limits.MaxConcurrency = 64
	limits.QueueTimeout = time.Minute
	return limits
}

// BenchmarkRunUncached measures a module's first run: compilation included.
// The runner shares no compilation cache, so nothing is reused.
func BenchmarkRunUncached(b *testing.B) {
	for _, bm := range benchModules {
		b.Run(bm.name, func(b *testing.B) {
			r, err := New(benchLimits())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = r.Close(b.Context()) })
			i := 0
			for b.Loop() {
				i++
				mustRun(b, r, bm.module(fmt.Sprint(i)), bm.input, false)
			}
		})
	}
}

// BenchmarkRunCached measures runs of an already compiled module.
func BenchmarkRunCached(b *testing.B) {
	for _, bm := range benchModules {
		b.Run(bm.name, func(b *testing.B) {
			r := newTestRunner(b, benchLimits())
			module := bm.module("")
			mustRun(b, r, module, bm.input, false)
			for b.Loop() {
				mustRun(b, r, module, bm.input, true)
			}
		})
	}
}

// BenchmarkRunParallel measures throughput of cached runs from many
// goroutines; runs/s is reported as a metric.
func BenchmarkRunParallel(b *testing.B) {
	for _, bm := range benchModules {
		b.Run(bm.name, func(b *testing.B) {
			r := newTestRunner(b, benchLimits())
			module := bm.module("")
			mustRun(b, r, module, bm.input, false)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mustRun(b, r, module, bm.input, true)
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
		})
	}
}

func mustRun(b *testing.B, r *Runner, module, input []byte, wantCached bool) {
	res, err := r.Run(b.Context(), module, input)
	if err != nil {
		b.Fatal(err)
	}
	if res.ExitCode != 0 || res.Cached != wantCached {
		b.Fatalf("exit %d, cached %v (want %v): %s", res.ExitCode, res.Cached, wantCached, res.Stderr)
	}
}
