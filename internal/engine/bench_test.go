package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/engine"
	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlite"
)

// largeBenchEnv opts into the 100,000-episode benchmark, which takes
// minutes to seed.
const largeBenchEnv = "MEMORY_MCP_BENCH_LARGE"

func newEngine(b *testing.B, opts sqlite.Options) *engine.Engine {
	b.Helper()
	st, err := sqlite.OpenWithOptions(context.Background(), filepath.Join(b.TempDir(), "m.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return engine.New(st, nil)
}

// corpus generates task descriptions from a Zipf-distributed vocabulary,
// so some words are common (long posting lists) and most are rare.
type corpus struct {
	words []string
	zipf  *rand.Zipf
}

func newCorpus(seed uint64) *corpus {
	r := rand.New(rand.NewPCG(seed, seed))
	words := make([]string, 5000)
	for i := range words {
		words[i] = "w" + strconv.FormatInt(int64(i), 36)
	}
	return &corpus{words: words, zipf: rand.NewZipf(r, 1.1, 1, uint64(len(words)-1))}
}

func (c *corpus) text(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = c.words[c.zipf.Uint64()]
	}
	return strings.Join(parts, " ")
}

func seed(b *testing.B, e *engine.Engine, c *corpus, n int) []string {
	b.Helper()
	ctx := context.Background()
	ids := make([]string, 0, n)
	for i := range n {
		ep, err := e.CreateEpisode(ctx, &memory.Episode{TaskDescription: c.text(10),
			Domain: fmt.Sprintf("d%d", i%8), Context: memory.Context{Language: "go"}})
		if err != nil {
			b.Fatal(err)
		}
		for j := range 2 {
			st := memory.Step{Tool: fmt.Sprintf("tool%d", (i+j)%12), Action: c.text(4),
				Result: memory.StepResult{Status: memory.StepSuccess}}
			if _, err := e.AddStep(ctx, ep.ID, st); err != nil {
				b.Fatal(err)
			}
		}
		if i%3 == 1 {
			if _, err := e.Complete(ctx, ep.ID, memory.Outcome{Status: memory.OutcomeSuccess}); err != nil {
				b.Fatal(err)
			}
		}
		ids = append(ids, ep.ID)
	}
	return ids
}

func BenchmarkCreateEpisode(b *testing.B) {
	e, c := newEngine(b, sqlite.Options{}), newCorpus(1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.CreateEpisode(ctx, &memory.Episode{TaskDescription: c.text(10)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddStep(b *testing.B) {
	e, c := newEngine(b, sqlite.Options{}), newCorpus(1)
	ids := seed(b, e, c, 1)
	ctx := context.Background()
	st := memory.Step{Tool: "shell", Action: "run", Result: memory.StepResult{Status: memory.StepSuccess}}
	for b.Loop() {
		if _, err := e.AddStep(ctx, ids[0], st); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompleteEpisode(b *testing.B) {
	e, c := newEngine(b, sqlite.Options{}), newCorpus(1)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		ids := seed(b, e, c, 1)
		b.StartTimer()
		if _, err := e.Complete(ctx, ids[0], memory.Outcome{Status: memory.OutcomeSuccess}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQuery1k(b *testing.B) {
	e, c := newEngine(b, sqlite.Options{UnsafeNoSync: true}), newCorpus(1)
	seed(b, e, c, 1000)
	benchQueries(b, e, c)
}

// BenchmarkQuery100k reports query latency percentiles and heap size with
// 100,000 stored episodes. Set MEMORY_MCP_BENCH_LARGE=1 to run it.
func BenchmarkQuery100k(b *testing.B) {
	if os.Getenv(largeBenchEnv) == "" {
		b.Skip("set " + largeBenchEnv + "=1 to seed 100,000 episodes")
	}
	e, c := newEngine(b, sqlite.Options{UnsafeNoSync: true}), newCorpus(1)
	start := time.Now()
	seed(b, e, c, 100_000)
	b.Logf("seeded 100000 episodes in %s", time.Since(start).Round(time.Second))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap, rss := float64(ms.HeapInuse)/(1<<20), rssMiB()
	benchQueries(b, e, c)
	// Reported after the queries: ResetTimer drops metrics reported before.
	b.ReportMetric(heap, "heap-MiB")
	b.ReportMetric(rss, "rss-MiB")
}

// benchQueries runs three-word queries and reports latency percentiles.
func benchQueries(b *testing.B, e *engine.Engine, c *corpus) {
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := e.QueryMemory(ctx, engine.Query{Text: c.text(3), Limit: 10}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// rssMiB reads the resident set size of this process from /proc.
func rssMiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
