package memory

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned when an episode id names no stored episode.
var ErrNotFound = errors.New("episode not found")

// ErrAlreadyCompleted is returned when a step or a second completion is
// sent for an episode that already has an outcome.
var ErrAlreadyCompleted = errors.New("episode already completed")

// ValidationError names the input field a caller must fix.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
