package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// defaultCacheEntries bounds the compiled-module cache. A compiled Go
// program takes a few MiB of machine code, so this keeps the cache in the
// low hundreds of MiB at worst.
const defaultCacheEntries = 32

// Result is the outcome of a run that reached the module, whether or not
// the program succeeded.
type Result struct {
	// Stdout is what the program wrote to stdout, cut at the output limit.
	Stdout []byte
	// Stderr is what the program wrote to stderr, cut at the output limit.
	Stderr []byte
	// ExitCode is the program's exit status, or -1 when it did not exit by
	// itself: it trapped or the host stopped it at a limit.
	ExitCode int
	// Trap is the runtime's message when the program trapped (for example
	// an unreachable instruction after a Rust panic), else empty.
	Trap string
	// Duration is the wall time of the run, compilation included.
	Duration time.Duration
	// ModuleHash is the hex SHA-256 of the module bytes.
	ModuleHash string
	// Cached reports whether the compiled module came from the cache.
	Cached bool
	// LimitHit names the limit the run hit, or is empty. It is set together
	// with a *LimitError, and also when the program was refused memory but
	// recovered and exited on its own.
	LimitHit LimitKind
}

// Option configures a Runner.
type Option func(*options)

type options struct {
	metrics          *Metrics
	cacheEntries     int
	compilationCache wazero.CompilationCache
}

// WithMetrics makes the Runner record into m, which the caller registers.
func WithMetrics(m *Metrics) Option {
	return func(o *options) { o.metrics = m }
}

// WithCacheEntries bounds how many compiled modules are kept (default 32).
func WithCacheEntries(n int) Option {
	return func(o *options) { o.cacheEntries = n }
}

// WithCompilationCache shares wazero's compiled code with other runtimes,
// so a Runner built after another (a restart in tests, a second server in
// one process) does not compile the same module again.
func WithCompilationCache(c wazero.CompilationCache) Option {
	return func(o *options) { o.compilationCache = c }
}

// Runner runs WASI command modules under limits. It is safe for concurrent
// use. See the package documentation for what a module may do.
type Runner struct {
	runtime   wazero.Runtime
	wasiNames map[string]bool
	cache     *moduleCache
	slots     *slots
	metrics   *Metrics

	mu       sync.RWMutex // guards limits and closed
	limits   Limits
	closed   bool
	inflight sync.WaitGroup
}

// New returns a Runner enforcing limits.
func New(limits Limits, opts ...Option) (*Runner, error) {
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	o := options{cacheEntries: defaultCacheEntries}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cacheEntries < 1 {
		return nil, fmt.Errorf("cache entries must be positive, got %d", o.cacheEntries)
	}
	if o.metrics == nil {
		o.metrics = NewMetrics()
	}

	rt, names, err := newRuntime(o.compilationCache)
	if err != nil {
		return nil, err
	}
	return &Runner{
		runtime:   rt,
		wasiNames: names,
		cache:     newModuleCache(o.cacheEntries),
		slots:     newSlots(limits.MaxConcurrency),
		metrics:   o.metrics,
		limits:    limits,
	}, nil
}

// newRuntime builds the one runtime a Runner uses for its whole life, with
// WASI preview 1 as the only host module, and returns the names of the
// functions WASI provides.
func newRuntime(cc wazero.CompilationCache) (wazero.Runtime, map[string]bool, error) {
	// The page ceiling is fixed for the runtime's life; the per-run memory
	// limit, which may change live, is enforced below it by memoryGuard.
	cfg := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(MemoryCeilingBytes / PageSize).
		WithCloseOnContextDone(true)
	if cc != nil {
		cfg = cfg.WithCompilationCache(cc)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)

	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("instantiating WASI: %w", err), rt.Close(ctx))
	}
	names := map[string]bool{}
	wasi := rt.Module(wasi_snapshot_preview1.ModuleName)
	for name := range wasi.ExportedFunctionDefinitions() {
		names[name] = true
	}
	return rt, names, nil
}

// Limits returns the limits applied to the next run.
func (r *Runner) Limits() Limits {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.limits
}

// UpdateLimits applies limits to every run that starts afterwards; runs in
// progress keep the limits they started with.
func (r *Runner) UpdateLimits(limits Limits) error {
	if err := limits.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limits = limits
	r.slots.resize(limits.MaxConcurrency)
	return nil
}

// Close refuses new runs, waits for runs in progress until ctx ends, then
// releases the runtime, which stops any run still going.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		r.inflight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
	}
	return errors.Join(r.cache.close(ctx), r.runtime.Close(ctx))
}

// Run runs module with input on stdin under the configured limits.
//
// A program that exits non-zero or traps is not an error: see
// Result.ExitCode and Result.Trap. Errors are a *LimitError,
// ErrInvalidModule, a *ForbiddenImportError (see IsSecurityViolation),
// ErrClosed, or the context's error. Whenever the module was at least
// hashed, the Result is returned alongside the error for auditing.
//
// Limitation: input is not capped here; the server's request size limit
// bounds it before it reaches the sandbox.
func (r *Runner) Run(ctx context.Context, module, input []byte) (*Result, error) {
	return r.RunWithOptions(ctx, module, input, RunOptions{})
}

// RunWithOptions is Run with per-call limits narrowed by opts.
func (r *Runner) RunWithOptions(ctx context.Context, module, input []byte, opts RunOptions) (*Result, error) {
	res, err := r.run(ctx, module, input, opts)
	if err != nil && res != nil && res.LimitHit == "" {
		res.LimitHit = LimitHit(err)
	}
	r.metrics.finished(res, err)
	return res, err
}

func (r *Runner) run(ctx context.Context, module, input []byte, opts RunOptions) (*Result, error) {
	limits, err := r.begin()
	if err != nil {
		return nil, err
	}
	defer r.inflight.Done()
	limits = opts.narrow(limits)

	sum := sha256.Sum256(module)
	res := &Result{ModuleHash: hex.EncodeToString(sum[:]), ExitCode: -1}
	if int64(len(module)) > limits.MaxModuleBytes {
		return res, &LimitError{Limit: LimitModuleSize, Bound: fmt.Sprintf("%d bytes", limits.MaxModuleBytes)}
	}

	ok, err := r.slots.acquire(ctx, limits.QueueTimeout)
	if err != nil {
		return res, fmt.Errorf("waiting for a sandbox slot: %w", err)
	}
	if !ok {
		return res, &LimitError{Limit: LimitConcurrency, Bound: limits.QueueTimeout.String()}
	}
	defer r.slots.release()

	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()

	m, cached, err := r.cache.acquire(ctx, res.ModuleHash, func() (*compiledModule, error) {
		return r.compile(module)
	})
	r.metrics.cacheLookup(cached)
	if err != nil {
		return res, err
	}
	defer r.cache.release(m)
	res.Cached = cached

	return res, r.execute(ctx, m, input, limits, res)
}

// begin registers a run in progress and returns the limits it runs under.
func (r *Runner) begin() (Limits, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return Limits{}, ErrClosed
	}
	r.inflight.Add(1)
	return r.limits, nil
}
