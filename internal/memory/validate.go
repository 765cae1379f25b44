package memory

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"
)

// Input bounds. They keep one episode small enough to rank and export
// quickly; callers that hit them get a message naming the field.
const (
	MaxDescriptionLen  = 4000
	MaxShortFieldLen   = 200
	MaxTags            = 32
	MaxTagLen          = 64
	MaxStepTextLen     = 16000
	MaxParametersLen   = 32000
	MaxStepsPerEpisode = 10000
)

// ValidateEpisode checks a new episode before it is stored.
func ValidateEpisode(e *Episode) error {
	var errs []error
	if strings.TrimSpace(e.TaskDescription) == "" {
		errs = append(errs, invalid("task_description", "must not be empty"))
	}
	errs = append(errs,
		checkLen("task_description", e.TaskDescription, MaxDescriptionLen),
		checkLen("domain", e.Domain, MaxShortFieldLen),
		checkLen("task_type", e.TaskType, MaxShortFieldLen),
		checkLen("context.language", e.Context.Language, MaxShortFieldLen),
		checkLen("context.framework", e.Context.Framework, MaxShortFieldLen),
		validateComplexity(e.Context.Complexity),
		ValidateTags(e.Tags),
	)
	return errors.Join(errs...)
}

func validateComplexity(c Complexity) error {
	switch c {
	case "", ComplexityLow, ComplexityMedium, ComplexityHigh:
		return nil
	}
	return invalid("context.complexity", "%q is not one of low, medium, high", c)
}

// ValidateTags checks tags for count, length and emptiness.
func ValidateTags(tags []string) error {
	if len(tags) > MaxTags {
		return invalid("tags", "at most %d tags, got %d", MaxTags, len(tags))
	}
	for _, t := range tags {
		if strings.TrimSpace(t) == "" {
			return invalid("tags", "tags must not be empty strings")
		}
		if err := checkLen("tags", t, MaxTagLen); err != nil {
			return err
		}
	}
	return nil
}

// NormalizeTags trims, lower-cases, sorts and de-duplicates tags so that
// tag search is case-insensitive and stable.
func NormalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, strings.ToLower(strings.TrimSpace(t)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ValidateStep refuses a step that could not be scored or replayed. Steps
// are never silently dropped: a caller learns which field to fix.
func ValidateStep(s *Step) error {
	var errs []error
	if strings.TrimSpace(s.Tool) == "" {
		errs = append(errs, invalid("tool", "must name the tool the agent invoked"))
	}
	switch s.Result.Status {
	case StepSuccess, StepError, StepTimeout:
	default:
		errs = append(errs, invalid("result.status",
			"%q is not one of success, error, timeout", s.Result.Status))
	}
	if s.LatencyMS < 0 {
		errs = append(errs, invalid("latency_ms", "must not be negative"))
	}
	if s.Tokens < 0 {
		errs = append(errs, invalid("tokens", "must not be negative"))
	}
	if len(s.Parameters) > 0 && !json.Valid(s.Parameters) {
		errs = append(errs, invalid("parameters", "must be a JSON object"))
	}
	errs = append(errs,
		checkLen("tool", s.Tool, MaxShortFieldLen),
		checkLen("action", s.Action, MaxStepTextLen),
		checkLen("result.output", s.Result.Output, MaxStepTextLen),
		checkLen("result.error", s.Result.Error, MaxStepTextLen),
		checkBytes("parameters", len(s.Parameters), MaxParametersLen),
	)
	return errors.Join(errs...)
}

// ValidateOutcome checks that the fields an outcome status needs are there.
func ValidateOutcome(o *Outcome) error {
	switch o.Status {
	case OutcomeSuccess, OutcomePartialSuccess:
		return nil
	case OutcomeFailure:
		if strings.TrimSpace(o.Reason) == "" {
			return invalid("outcome.reason", "a failure needs a reason")
		}
		return nil
	}
	return invalid("outcome.status",
		"%q is not one of success, partial_success, failure", o.Status)
}

func checkLen(field, s string, limit int) error {
	if n := utf8.RuneCountInString(s); n > limit {
		return invalid(field, "at most %d characters, got %d", limit, n)
	}
	return nil
}

func checkBytes(field string, n, limit int) error {
	if n > limit {
		return invalid(field, "at most %d bytes, got %d", limit, n)
	}
	return nil
}
