package sandbox

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestManyConcurrentRuns(t *testing.T) {
	defer goleak.VerifyNone(t)
	limits := DefaultLimits()
	limits.MaxConcurrency = 8
	limits.QueueTimeout = 30 * time.Second
	r := newTestRunner(t, limits)
	module := guests["jsontransform"]

	runBatch(t, r, module, 100)
	firstHeap := heapAfterGC()
	runBatch(t, r, module, 100)
	secondHeap := heapAfterGC()

	// Each run's linear memory (a few MiB) is freed when its module closes;
	// a leak would show as about 100 times that.
	const slack = 64 << 20
	if secondHeap > firstHeap+slack {
		t.Errorf("heap grew from %d to %d bytes over a second batch of 100 runs", firstHeap, secondHeap)
	}
	t.Logf("heap after batches: %d, %d bytes", firstHeap, secondHeap)
	if err := r.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func runBatch(t *testing.T, r *Runner, module []byte, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			res, err := r.Run(t.Context(), module, []byte(`{"numbers": [1, 2]}`))
			if err == nil && res.ExitCode != 0 {
				err = errors.New(string(res.Stderr))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent run failed: %v", err)
		}
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapAlloc
}

func TestBusyWhenEverySlotIsTaken(t *testing.T) {
	t.Parallel()
	limits := DefaultLimits()
	limits.MaxConcurrency = 1
	limits.QueueTimeout = 10 * time.Millisecond
	limits.Timeout = time.Minute
	r := newTestRunner(t, limits)

	// The spinner holds the only slot until its context is canceled.
	spinCtx, stopSpin := context.WithCancel(t.Context())
	spinDone := make(chan error, 1)
	go func() {
		_, err := r.Run(spinCtx, guests["spin"], nil)
		spinDone <- err
	}()
	awaitSlotsInUse(t, r, 1)

	res, err := r.Run(t.Context(), helloModule(""), nil)
	if !errors.Is(err, &LimitError{Limit: LimitConcurrency}) {
		t.Errorf("second run error = %v, want a busy LimitError", err)
	}
	if res == nil || res.LimitHit != LimitConcurrency || res.ModuleHash == "" {
		t.Errorf("second run result = %+v, want LimitHit concurrency and a module hash", res)
	}

	stopSpin()
	if err := <-spinDone; !errors.Is(err, context.Canceled) {
		t.Errorf("spinning run error = %v, want context.Canceled", err)
	}
}

// awaitSlotsInUse waits until n runs hold a slot. It yields rather than
// sleeps: the condition turns true within one scheduling round or two.
func awaitSlotsInUse(t *testing.T, r *Runner, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.slots.mu.Lock()
		inUse := r.slots.inUse
		r.slots.mu.Unlock()
		if inUse == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d slots in use, want %d", inUse, n)
		}
		runtime.Gosched()
	}
}

func TestUpdateLimitsAppliesToNextRun(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t, DefaultLimits())
	input := []byte(`{"numbers": [1]}`)
	if _, err := r.Run(t.Context(), guests["jsontransform"], input); err != nil {
		t.Fatalf("run under default limits: %v", err)
	}

	tiny := DefaultLimits()
	tiny.MemoryBytes = PageSize
	if err := r.UpdateLimits(tiny); err != nil {
		t.Fatalf("UpdateLimits: %v", err)
	}
	res, err := r.Run(t.Context(), guests["jsontransform"], input)
	if !errors.Is(err, &LimitError{Limit: LimitMemory}) || !res.Cached {
		t.Errorf("run after lowering memory: error %v, cached %v; want a memory LimitError from the cache",
			err, res.Cached)
	}

	tight := DefaultLimits()
	tight.Timeout = 200 * time.Millisecond
	if err := r.UpdateLimits(tight); err != nil {
		t.Fatalf("UpdateLimits: %v", err)
	}
	_, err = r.Run(t.Context(), guests["spin"], nil)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitTimeout || le.Bound != "200ms" {
		t.Errorf("run after lowering timeout: error %v, want a 200ms timeout LimitError", err)
	}

	invalid := tight
	invalid.Timeout = 0
	if err := r.UpdateLimits(invalid); !errors.Is(err, ErrInvalidLimits) {
		t.Errorf("UpdateLimits(invalid) = %v, want ErrInvalidLimits", err)
	}
	if got := r.Limits(); got != tight {
		t.Errorf("limits after a refused update = %+v, want %+v", got, tight)
	}
}

func TestRunWithOptionsNarrowsTimeout(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t, DefaultLimits())
	_, err := r.RunWithOptions(t.Context(), guests["spin"], nil, RunOptions{Timeout: 100 * time.Millisecond})
	var le *LimitError
	if !errors.As(err, &le) || le.Bound != "100ms" {
		t.Errorf("error = %v, want a 100ms timeout LimitError", err)
	}
}

func TestCacheAndMetrics(t *testing.T) {
	t.Parallel()
	metrics := NewMetrics()
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := metrics.Register(reg); err == nil {
		t.Error("registering twice succeeded, want an error")
	}
	r := newTestRunner(t, DefaultLimits(), WithMetrics(metrics), WithCacheEntries(1))

	// With room for one module, a, b, a compiles a twice.
	a, b := helloModule("a"), helloModule("b")
	var cached []bool
	for _, module := range [][]byte{a, a, b, a} {
		res, err := r.Run(t.Context(), module, nil)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		cached = append(cached, res.Cached)
	}
	if diff := cmp.Diff([]bool{false, true, false, false}, cached); diff != "" {
		t.Errorf("cached (-want +got):\n%s", diff)
	}
	_, _ = r.Run(t.Context(), importingModule("env", "system"), nil)

	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"hits", metrics.CacheHits, 1},
		{"misses", metrics.CacheMisses, 4},
		{"ok runs", metrics.Runs.WithLabelValues(resultOK), 4},
		{"forbidden imports", metrics.Failures.WithLabelValues(causeForbiddenImport), 1},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestClosedRunnerRefusesRuns(t *testing.T) {
	t.Parallel()
	r, err := New(DefaultLimits())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := r.Run(t.Context(), helloModule(""), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestIsSecurityViolation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"forbidden import", &ForbiddenImportError{Imports: []string{"env.system"}}, true},
		{"wrapped forbidden import", errors.Join(errors.New("run"), &ForbiddenImportError{}), true},
		{"limit", &LimitError{Limit: LimitTimeout}, false},
		{"invalid module", ErrInvalidModule, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := IsSecurityViolation(tt.err); got != tt.want {
			t.Errorf("%s: IsSecurityViolation = %v, want %v", tt.name, got, tt.want)
		}
	}
}
