// Package memory holds the episodic memory model and the pure functions that
// score, reflect on and extract patterns from episodes.
//
// Nothing here performs I/O: stores persist these types and the engine
// combines them, so every rule that decides a score can be tested alone.
package memory

import (
	"encoding/json"
	"time"
)

// Complexity of a task, as the agent judged it when the episode started.
type Complexity string

// Complexity levels.
const (
	ComplexityLow    Complexity = "low"
	ComplexityMedium Complexity = "medium"
	ComplexityHigh   Complexity = "high"
)

// StepStatus is how a single tool invocation ended.
type StepStatus string

// Step statuses.
const (
	StepSuccess StepStatus = "success"
	StepError   StepStatus = "error"
	StepTimeout StepStatus = "timeout"
)

// OutcomeStatus is how a whole episode ended.
type OutcomeStatus string

// Outcome statuses.
const (
	OutcomeSuccess        OutcomeStatus = "success"
	OutcomePartialSuccess OutcomeStatus = "partial_success"
	OutcomeFailure        OutcomeStatus = "failure"
)

// Context describes the circumstances of a task; retrieval prefers episodes
// whose context matches the caller's.
type Context struct {
	Language   string     `json:"language,omitempty"`
	Framework  string     `json:"framework,omitempty"`
	Complexity Complexity `json:"complexity,omitempty"`
}

// Episode is one attempt by an agent at one task.
type Episode struct {
	ID              string      `json:"id"`
	TaskDescription string      `json:"task_description"`
	Domain          string      `json:"domain,omitempty"`
	TaskType        string      `json:"task_type,omitempty"`
	Context         Context     `json:"context"`
	Tags            []string    `json:"tags"`
	Steps           []Step      `json:"steps,omitempty"`
	StepCount       int         `json:"step_count"`
	Outcome         *Outcome    `json:"outcome,omitempty"`
	Reward          *Reward     `json:"reward,omitempty"`
	Reflection      *Reflection `json:"reflection,omitempty"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
	CompletedAt     *time.Time  `json:"completed_at,omitempty"`
}

// Completed reports whether the episode has an outcome.
func (e *Episode) Completed() bool { return e.CompletedAt != nil }

// Step is one tool invocation inside an episode.
type Step struct {
	// Seq numbers steps from 1 in the order the store acknowledged them.
	Seq        int             `json:"seq"`
	Tool       string          `json:"tool"`
	Action     string          `json:"action"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Result     StepResult      `json:"result"`
	LatencyMS  int64           `json:"latency_ms"`
	Tokens     int64           `json:"tokens"`
	At         time.Time       `json:"at"`
}

// StepResult is what a step produced.
type StepResult struct {
	Status StepStatus `json:"status"`
	Output string     `json:"output,omitempty"`
	Error  string     `json:"error,omitempty"`
}

// Outcome is how the episode ended. Which fields matter depends on Status.
type Outcome struct {
	Status OutcomeStatus `json:"status"`
	// Verdict and Artifacts describe a success.
	Verdict   string   `json:"verdict,omitempty"`
	Artifacts []string `json:"artifacts,omitempty"`
	// Completed and Failed list the sub-goals of a partial success.
	Completed []string `json:"completed,omitempty"`
	Failed    []string `json:"failed,omitempty"`
	// Reason explains a failure.
	Reason string `json:"reason,omitempty"`
}

// Reward scores a completed episode in [0, 1], with the components that
// produced the total so an agent can see why.
type Reward struct {
	Total      float64 `json:"total"`
	Outcome    float64 `json:"outcome"`
	Efficiency float64 `json:"efficiency"`
	Complexity float64 `json:"complexity"`
}

// Reflection is the lesson drawn from a completed episode.
type Reflection struct {
	WhatWorked    []string `json:"what_worked"`
	WhatToImprove []string `json:"what_to_improve"`
	Insights      []string `json:"insights"`
}

// Completion is everything computed when an episode completes; stores
// persist it in one transaction together with the pattern observations.
type Completion struct {
	Outcome    Outcome
	Reward     Reward
	Reflection Reflection
	At         time.Time
}

// Summary is the part of an episode that ranking needs, without steps.
type Summary struct {
	ID              string    `json:"id"`
	TaskDescription string    `json:"task_description"`
	Domain          string    `json:"domain,omitempty"`
	TaskType        string    `json:"task_type,omitempty"`
	Context         Context   `json:"context"`
	Tags            []string  `json:"tags"`
	Status          string    `json:"status"`
	RewardTotal     *float64  `json:"reward,omitempty"`
	StepCount       int       `json:"step_count"`
	CreatedAt       time.Time `json:"created_at"`
	Embedding       []float32 `json:"-"`
}

// StatusOpen is the status of an episode that has not completed.
const StatusOpen = "open"
