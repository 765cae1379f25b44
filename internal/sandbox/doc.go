// Package sandbox runs untrusted WebAssembly programs for the MCP tool
// execute_agent_code: agents send a WASI preview 1 command module, the
// Runner feeds it JSON on stdin and returns what it wrote to stdout.
//
// A module may compute, read stdin, write stdout and stderr, read the
// clocks, draw random bytes, sleep and exit. It gets no arguments beyond a
// program name, no environment variables, no preopened directories (so no
// files at all) and no sockets. It may import only functions of
// wasi_snapshot_preview1 that wazero provides; anything else is refused
// before it runs, as a *ForbiddenImportError (see IsSecurityViolation).
//
// Every run is bounded by Limits: module size (checked before compiling),
// memory, wall time, output per stream, and how many runs proceed at once
// with how long a run may queue. Hitting one is a *LimitError naming it.
//
// # Notes
//
//   - Clocks are the host's real wall and monotonic clocks (1µs resolution)
//     and sleeping really sleeps: programs may time their work or stamp
//     results, and the wall-time limit bounds a sleeper like a spinner
//     (a sleep wakes when the run is stopped).
//     The clocks are not coarsened, so a program can measure its own timing
//     finely; it shares no secrets with the host through the sandbox, but
//     this is a side channel stricter deployments might want to close.
//   - Random bytes come from crypto/rand, so programs that seed hash maps or
//     generate identifiers are neither predictable nor reproducible.
//   - The memory limit is enforced per run by a memory allocator hook
//     (wazero's experimental.WithMemoryAllocator), not by the runtime's
//     page limit: the runtime and its compiled modules then survive a limit
//     change, and the host knows for certain when a run was refused memory.
//     The runtime is still built with WithMemoryLimitPages at
//     MemoryCeilingBytes as a hard ceiling no configuration can lift.
//   - One wazero.Runtime serves a Runner for its whole life. Compiled
//     modules are cached by SHA-256 of their bytes in a bounded LRU; an
//     evicted module is closed once the last run using it ends. A process
//     building several runners can share wazero's compiled code with
//     WithCompilationCache. No on-disk compilation cache is used: agent
//     code is unbounded in variety and would grow it without limit.
//   - UpdateLimits applies to runs that start afterwards. Lowering
//     MaxConcurrency lets runs in progress finish; new runs wait for the
//     count to drop below the new bound.
//   - Limitation: a run that is stopped (time or output limit) is ended
//     at wazero's next check, at function entries and loop back-edges, so
//     a host call already in progress (a long write) finishes first. Sleep
//     is the one host call that could last long, and it is cut short.
//   - Tables count against the memory limit, since wazero keeps them in
//     host memory: a table without a declared maximum gets its minimum as
//     maximum (see scanModule), so table.grow cannot reach past the limit.
package sandbox
