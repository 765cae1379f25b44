package sandbox

import (
	"errors"
	"fmt"
	"time"
)

// PageSize is the size of one WebAssembly memory page; memory limits are
// enforced in whole pages.
const PageSize = 64 << 10

// MemoryCeilingBytes is the largest MemoryBytes that Validate accepts. The
// runtime is built with this ceiling (wazero.RuntimeConfig.WithMemoryLimitPages),
// so no later UpdateLimits can lift a module past it.
const MemoryCeilingBytes = 1 << 30

// Bounds that Validate enforces beyond positivity. They keep a mistyped
// config value from turning the sandbox into a denial of service.
const (
	maxTimeout        = 10 * time.Minute
	maxQueueTimeout   = time.Minute
	maxOutputBytes    = 64 << 20
	maxModuleBytes    = 128 << 20
	maxMaxConcurrency = 1024
)

// ErrInvalidLimits is wrapped by every error that Limits.Validate returns.
var ErrInvalidLimits = errors.New("invalid sandbox limits")

// Limits bounds what one run may consume. The zero value is invalid; start
// from DefaultLimits.
type Limits struct {
	// MemoryBytes caps a module's linear memory together with what its
	// tables may grow to. Linear memory gets whole 64 KiB pages of what the
	// tables leave. It may not exceed MemoryCeilingBytes.
	MemoryBytes int64
	// Timeout caps the wall time of one run, from instantiation to exit.
	// Compilation of an uncached module is not counted.
	Timeout time.Duration
	// MaxOutputBytes caps stdout and stderr, each on its own.
	MaxOutputBytes int64
	// MaxModuleBytes caps the size of the module binary, checked before
	// anything else is done with it.
	MaxModuleBytes int64
	// MaxConcurrency caps how many runs (compilation included) proceed at once.
	MaxConcurrency int
	// QueueTimeout caps how long a run waits for a free slot before it is
	// refused as busy. Zero refuses at once when every slot is taken.
	QueueTimeout time.Duration
}

// DefaultLimits returns limits suited to small agent programs on a modest
// server: enough for a Go-compiled JSON transform, little more.
func DefaultLimits() Limits {
	return Limits{
		MemoryBytes:    128 << 20,
		Timeout:        5 * time.Second,
		MaxOutputBytes: 1 << 20,
		MaxModuleBytes: 16 << 20,
		MaxConcurrency: 4,
		QueueTimeout:   2 * time.Second,
	}
}

// Validate reports every field out of bounds at once, each error wrapping
// ErrInvalidLimits.
func (l Limits) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidLimits}, args...)...))
		}
	}

	check(l.MemoryBytes >= PageSize && l.MemoryBytes <= MemoryCeilingBytes,
		"memory must be between %d and %d bytes, got %d", PageSize, MemoryCeilingBytes, l.MemoryBytes)
	check(l.Timeout > 0 && l.Timeout <= maxTimeout,
		"timeout must be between 1ns and %s, got %s", maxTimeout, l.Timeout)
	check(l.MaxOutputBytes > 0 && l.MaxOutputBytes <= maxOutputBytes,
		"output limit must be between 1 and %d bytes, got %d", maxOutputBytes, l.MaxOutputBytes)
	check(l.MaxModuleBytes > 0 && l.MaxModuleBytes <= maxModuleBytes,
		"module size limit must be between 1 and %d bytes, got %d", maxModuleBytes, l.MaxModuleBytes)
	check(l.MaxConcurrency > 0 && l.MaxConcurrency <= maxMaxConcurrency,
		"concurrency must be between 1 and %d, got %d", maxMaxConcurrency, l.MaxConcurrency)
	check(l.QueueTimeout >= 0 && l.QueueTimeout <= maxQueueTimeout,
		"queue timeout must be between 0 and %s, got %s", maxQueueTimeout, l.QueueTimeout)
	return errors.Join(errs...)
}

// RunOptions narrows the limits of a single run. A zero field keeps the
// configured limit; a field wider than the configured limit is clamped to it,
// so a caller can never widen what the operator set.
type RunOptions struct {
	// Timeout narrows Limits.Timeout for this run.
	Timeout time.Duration
}

// narrow returns l with o applied.
func (o RunOptions) narrow(l Limits) Limits {
	if o.Timeout > 0 && o.Timeout < l.Timeout {
		l.Timeout = o.Timeout
	}
	return l
}
