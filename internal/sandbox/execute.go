package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// programName is the only argument a module receives (its argv[0]).
const programName = "agent"

// startFunction is the entry point of a WASI command.
const startFunction = "_start"

// compile compiles module, with its tables bounded (see scanModule), and
// vets it once for every later run.
func (r *Runner) compile(module []byte) (*compiledModule, error) {
	ctx := context.Background()
	facts, scanErr := scanModule(module)
	if scanErr == nil {
		module = facts.bounded
	}
	// A module the scan refused is still compiled: wazero's error says
	// better what is wrong with it.
	compiled, err := r.runtime.CompileModule(ctx, module)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	if scanErr != nil {
		return nil, errors.Join(fmt.Errorf("%w: %w", ErrInvalidModule, scanErr), compiled.Close(ctx))
	}

	m, err := r.vet(facts, compiled)
	if err != nil {
		return nil, errors.Join(err, compiled.Close(ctx))
	}
	return m, nil
}

// vet refuses modules that import anything but WASI functions, or that are
// not commands.
func (r *Runner) vet(facts moduleFacts, compiled wazero.CompiledModule) (*compiledModule, error) {
	var forbidden []string
	for _, imp := range facts.imports {
		isWASI := imp.module == wasi_snapshot_preview1.ModuleName && imp.kind == importFunc
		if !isWASI || !r.wasiNames[imp.name] {
			forbidden = append(forbidden, imp.String())
		}
	}
	if len(forbidden) > 0 {
		return nil, &ForbiddenImportError{Imports: forbidden}
	}

	if _, ok := compiled.ExportedFunctions()[startFunction]; !ok {
		return nil, fmt.Errorf("%w: no %s export; build a WASI command, not a library",
			ErrInvalidModule, startFunction)
	}
	return &compiledModule{compiled: compiled, initialPages: facts.initialPages,
		tableBytes: facts.tableEntries * tableEntryBytes}, nil
}

// execute instantiates m and runs its entry point under limits, filling res.
func (r *Runner) execute(
	ctx context.Context, m *compiledModule, input []byte, limits Limits, res *Result,
) error {
	// Tables take their share of the memory limit first; linear memory
	// may use the rest.
	memErr := &LimitError{Limit: LimitMemory, Bound: fmt.Sprintf("%d bytes", limits.MemoryBytes)}
	if m.tableBytes > uint64(limits.MemoryBytes) {
		return memErr
	}
	linearPages := uint32((uint64(limits.MemoryBytes) - m.tableBytes) / PageSize)
	if m.initialPages > linearPages {
		return memErr
	}

	// Each limit that stops the module records itself as the cause, so the
	// outcome names the limit rather than a bare cancellation.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	timeoutErr := &LimitError{Limit: LimitTimeout, Bound: limits.Timeout.String()}
	runCtx, cancel := context.WithTimeoutCause(runCtx, limits.Timeout, timeoutErr)
	defer cancel()
	guard := newMemoryGuard(linearPages)
	runCtx = experimental.WithMemoryAllocator(runCtx, guard)

	outErr := &LimitError{Limit: LimitOutput, Bound: fmt.Sprintf("%d bytes", limits.MaxOutputBytes)}
	stdout := newCappedBuffer(limits.MaxOutputBytes, stop, outErr)
	stderr := newCappedBuffer(limits.MaxOutputBytes, stop, outErr)

	err := r.instantiateAndStart(runCtx, m, moduleConfig(runCtx, input, stdout, stderr), guard, memErr)
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	return classify(ctx, runCtx, err, guard, memErr, res)
}

// moduleConfig grants a module stdin, stdout, stderr, clocks, sleep and
// randomness, and nothing else: no arguments beyond its name, no
// environment, no directories, no sockets. Sleeps end with ctx.
func moduleConfig(ctx context.Context, input []byte, stdout, stderr *cappedBuffer) wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		// An empty name lets many instances of one module run at once.
		WithName("").
		WithArgs(programName).
		WithStdin(bytes.NewReader(input)).
		WithStdout(stdout).
		WithStderr(stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(sleepUntilDone(ctx)).
		WithRandSource(rand.Reader).
		// Started by hand, after the initial memory is checked.
		WithStartFunctions()
}

// sleepUntilDone is the module's sleep (poll_oneoff with a clock). It
// wakes when ctx ends: wazero stops a module between instructions only,
// never inside a host call, so a plain time.Sleep would let a sleeping
// program outlast the time limit by as long as it asked to sleep.
func sleepUntilDone(ctx context.Context) sys.Nanosleep {
	return func(ns int64) {
		timer := time.NewTimer(time.Duration(ns))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}
}

func (r *Runner) instantiateAndStart(
	ctx context.Context, m *compiledModule, cfg wazero.ModuleConfig, guard *memoryGuard, memErr error,
) error {
	mod, err := r.runtime.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		return err
	}
	// The module may have exited already; closing again is harmless and
	// its error adds nothing to the run's outcome.
	defer func() { _ = mod.Close(context.Background()) }()

	if guard.initialTooLarge.Load() {
		return memErr
	}
	_, err = mod.ExportedFunction(startFunction).Call(ctx)
	return err
}

// classify turns the outcome of a run into res fields and the run's error.
func classify(ctx, runCtx context.Context, err error, guard *memoryGuard, memErr error, res *Result) error {
	refused := guard.refused.Load() || guard.initialTooLarge.Load()
	if refused {
		res.LimitHit = LimitMemory
	}
	if err == nil {
		res.ExitCode = 0
		return nil
	}

	var limitErr *LimitError
	if errors.As(err, &limitErr) {
		return limitErr
	}
	if errors.As(context.Cause(runCtx), &limitErr) && ctx.Err() == nil {
		return limitErr
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sandbox run stopped: %w", context.Cause(ctx))
	}

	var exitErr *sys.ExitError
	if errors.As(err, &exitErr) {
		res.ExitCode = int(exitErr.ExitCode())
	} else {
		res.Trap = err.Error()
	}
	if refused && res.ExitCode != 0 {
		return memErr
	}
	return nil
}
