package mcptools

import (
	"context"
	"time"
)

// Event is one audited operation. The auditor adds the timestamp and the
// client id, which it takes from identity.FromContext.
type Event struct {
	// Operation is the tool name, e.g. "delete_episode".
	Operation string
	// Result is "success", "failure" or "refused".
	Result   string
	Metadata map[string]any
}

// Audit results.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	ResultRefused = "refused"
)

// Auditor records audited operations. Record must not block the call for
// long and reports no error: delivery is the auditor's concern.
type Auditor interface {
	Record(ctx context.Context, ev Event)
}

// NopAuditor discards events.
type NopAuditor struct{}

// Record implements Auditor.
func (NopAuditor) Record(context.Context, Event) {}

// CodeResult is what an agent program produced.
type CodeResult struct {
	// Output is what the module wrote to stdout, bounded by the runner.
	Output []byte
	// Stderr is what the module wrote to stderr, bounded by the runner.
	Stderr   []byte
	ExitCode int
	Duration time.Duration
	// Truncated reports that the runner cut Output or Stderr.
	Truncated bool
	// ModuleHash is the hex SHA-256 of the module, for the audit log.
	ModuleHash string
	// LimitHit names the sandbox limit the run hit ("timeout", "memory",
	// …), or is empty.
	LimitHit string
}

// CodeRunner runs a WebAssembly (WASI preview 1) module with input on its
// stdin. Errors are limits hit or modules refused; a module that runs and
// exits non-zero is a CodeResult, not an error. The CodeResult is filled as
// far as the run got even alongside an error, so the call can be audited.
type CodeRunner interface {
	Run(ctx context.Context, module, input []byte, timeout time.Duration) (CodeResult, error)
}
