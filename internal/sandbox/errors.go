package sandbox

import (
	"errors"
	"fmt"
	"strings"
)

// LimitKind names the limit that ended or refused a run. The values are
// stable: they appear in audit events and metric labels.
type LimitKind string

// The limits a run can hit.
const (
	LimitTimeout     LimitKind = "timeout"
	LimitMemory      LimitKind = "memory"
	LimitOutput      LimitKind = "output"
	LimitModuleSize  LimitKind = "module_size"
	LimitConcurrency LimitKind = "concurrency"
)

// LimitError reports that a run hit one of the configured Limits. For
// LimitConcurrency the server is busy and the same call may succeed later;
// for the others, the program or its input must change.
type LimitError struct {
	// Limit is the limit that was hit.
	Limit LimitKind
	// Bound is the configured bound, readable by a person ("200ms",
	// "1048576 bytes").
	Bound string
}

func (e *LimitError) Error() string {
	if e.Limit == LimitConcurrency {
		return fmt.Sprintf("sandbox busy: no free slot within %s", e.Bound)
	}
	return fmt.Sprintf("sandbox %s limit reached (%s)", e.Limit, e.Bound)
}

// Is lets errors.Is match a LimitError by kind: a target with an empty Limit
// matches any limit.
func (e *LimitError) Is(target error) bool {
	t, ok := target.(*LimitError)
	return ok && (t.Limit == "" || t.Limit == e.Limit)
}

var (
	// ErrInvalidModule reports bytes that are not a valid WebAssembly
	// module, or a module that is not a WASI command (no _start export).
	ErrInvalidModule = errors.New("invalid WebAssembly module")
	// ErrForbiddenImport reports a module that imports something the
	// sandbox does not provide. Matched by every ForbiddenImportError.
	ErrForbiddenImport = errors.New("module imports functions the sandbox does not provide")
	// ErrClosed reports a run attempted on a closed Runner.
	ErrClosed = errors.New("sandbox runner closed")
)

// ForbiddenImportError lists what a module tried to import beyond the WASI
// preview 1 functions the sandbox provides. A well-built WASI program never
// does this, so callers treat it as a security violation to audit.
type ForbiddenImportError struct {
	// Imports are the offending imports as "module.name".
	Imports []string
}

func (e *ForbiddenImportError) Error() string {
	return fmt.Sprintf("%s: %s", ErrForbiddenImport, strings.Join(e.Imports, ", "))
}

// Is makes errors.Is(err, ErrForbiddenImport) true.
func (e *ForbiddenImportError) Is(target error) bool {
	return target == ErrForbiddenImport
}

// IsSecurityViolation reports whether err means the module tried to reach
// beyond the sandbox, rather than merely failing or hitting a limit.
func IsSecurityViolation(err error) bool {
	return errors.Is(err, ErrForbiddenImport)
}

// LimitHit returns the limit named by err, or "" when err is not a LimitError.
func LimitHit(err error) LimitKind {
	var le *LimitError
	if errors.As(err, &le) {
		return le.Limit
	}
	return ""
}
