package memory

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func steps(statuses ...StepStatus) []Step {
	out := make([]Step, len(statuses))
	for i, s := range statuses {
		out[i] = Step{Seq: i + 1, Tool: "t", Result: StepResult{Status: s}}
	}
	return out
}

func TestScoreReward(t *testing.T) {
	tests := []struct {
		name  string
		o     Outcome
		steps []Step
		c     Complexity
		want  Reward
	}{
		{"failure scores zero", Outcome{Status: OutcomeFailure, Reason: "x"},
			steps(StepSuccess), ComplexityHigh, Reward{Total: 0, Outcome: 0, Efficiency: 1, Complexity: 1}},
		{"clean hard success is perfect", Outcome{Status: OutcomeSuccess},
			steps(StepSuccess, StepSuccess), ComplexityHigh, Reward{Total: 1, Outcome: 1, Efficiency: 1, Complexity: 1}},
		{"no steps is neutral, not blocked", Outcome{Status: OutcomeSuccess},
			nil, "", Reward{Total: 0.8, Outcome: 1, Efficiency: 0.5, Complexity: 0.5}},
		{"errors lower efficiency", Outcome{Status: OutcomeSuccess},
			steps(StepError, StepSuccess), ComplexityLow, Reward{Total: 0.815, Outcome: 1, Efficiency: 0.65, Complexity: 0.2}},
		{"partial success by share completed", Outcome{Status: OutcomePartialSuccess,
			Completed: []string{"a"}, Failed: []string{"b"}}, steps(StepSuccess), ComplexityMedium,
			Reward{Total: 0.5225, Outcome: 0.55, Efficiency: 1, Complexity: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ScoreReward(tt.o, tt.steps, tt.c)); diff != "" {
				t.Errorf("ScoreReward (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateStep(t *testing.T) {
	tests := []struct {
		name      string
		step      Step
		wantField string
	}{
		{"valid", Step{Tool: "grep", Result: StepResult{Status: StepSuccess}}, ""},
		{"no tool", Step{Result: StepResult{Status: StepSuccess}}, "tool"},
		{"unknown status", Step{Tool: "x", Result: StepResult{Status: "exploded"}}, "result.status"},
		{"negative latency", Step{Tool: "x", LatencyMS: -1, Result: StepResult{Status: StepTimeout}}, "latency_ms"},
		{"bad parameters", Step{Tool: "x", Parameters: []byte("{"), Result: StepResult{Status: StepError}}, "parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateStep(&tt.step)
			var ve *ValidationError
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantField != "" && (!errors.As(err, &ve) || ve.Field != tt.wantField):
				t.Errorf("got %v, want a ValidationError on %s", err, tt.wantField)
			}
		})
	}
}

func TestContextMatch(t *testing.T) {
	s := Summary{Domain: "backend", TaskType: "bugfix", Context: Context{Language: "Go"},
		Tags: []string{"api", "db"}}
	tests := []struct {
		name string
		q    QueryContext
		want float64
	}{
		{"nothing asked", QueryContext{}, 0},
		{"all match, case-insensitive", QueryContext{Domain: "backend", Context: Context{Language: "go"}}, 1},
		{"half match", QueryContext{Domain: "backend", TaskType: "feature"}, 0.5},
		{"tags by jaccard", QueryContext{Tags: []string{"API", "cache"}}, 1.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContextMatch(tt.q, s); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("ContextMatch = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecencyAndCosine(t *testing.T) {
	tests := []struct {
		name      string
		got, want float64
	}{
		{"new", Recency(0, time.Hour), 1},
		{"future is new", Recency(-time.Hour, time.Hour), 1},
		{"one half-life", Recency(time.Hour, time.Hour), 0.5},
		{"identical vectors", Cosine([]float32{1, 2}, []float32{2, 4}), 1},
		{"orthogonal", Cosine([]float32{1, 0}, []float32{0, 1}), 0},
		{"dimension mismatch", Cosine([]float32{1}, []float32{1, 0}), 0},
		{"zero vector", Cosine([]float32{0, 0}, []float32{1, 0}), 0},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-9 {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestRankOrdersBySignals(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good, bad := 0.9, 0.1
	cands := []Candidate{
		{Summary: Summary{ID: "weak-text", CreatedAt: now}, Lexical: 1},
		{Summary: Summary{ID: "strong-text-bad-reward", CreatedAt: now, RewardTotal: &bad}, Lexical: 4},
		{Summary: Summary{ID: "strong-text-good-reward", CreatedAt: now, RewardTotal: &good}, Lexical: 4},
		{Summary: Summary{ID: "strong-text-old", CreatedAt: now.AddDate(-1, 0, 0), RewardTotal: &good}, Lexical: 4},
	}
	var got []string
	for _, r := range Rank(cands, QueryContext{}, now, DefaultWeights) {
		got = append(got, r.ID)
	}
	want := []string{"strong-text-good-reward", "strong-text-old", "strong-text-bad-reward", "weak-text"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rank order (-want +got):\n%s", diff)
	}
}

func TestTerms(t *testing.T) {
	got := Terms(`Fix the "flaky" test: OR test-42 AND x`)
	if diff := cmp.Diff([]string{"fix", "flaky", "test", "42"}, got); diff != "" {
		t.Errorf("Terms (-want +got):\n%s", diff)
	}
}

func TestExtractPatterns(t *testing.T) {
	ep := &Episode{ID: "e1", Domain: "web", TaskType: "bugfix", Context: Context{Language: "Go"},
		Steps: []Step{
			{Tool: "build", Result: StepResult{Status: StepError}},
			{Tool: "edit", Result: StepResult{Status: StepSuccess}},
			{Tool: "edit", Result: StepResult{Status: StepSuccess}},
			{Tool: "test", Result: StepResult{Status: StepSuccess}},
		}}
	var got []string
	for _, o := range ExtractPatterns(ep, Outcome{Status: OutcomeSuccess}, time.Time{}) {
		got = append(got, string(o.Kind)+": "+o.Key)
	}
	want := []string{
		"tool_sequence: build > edit > test",
		"error_recovery: build -> edit",
		"decision_point: edit -> test",
		"context: task_type=bugfix language=go",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExtractPatterns (-want +got):\n%s", diff)
	}
}

func TestHeuristics(t *testing.T) {
	ps := []Pattern{
		{Kind: PatternToolSequence, Key: "a > b", Occurrences: 50, Successes: 45},
		{Kind: PatternToolSequence, Key: "c > d", Occurrences: 2, Successes: 2},
		{Kind: PatternErrorRecovery, Key: "x -> y", Occurrences: 10, Successes: 1},
		{Kind: PatternContext, Key: "language=go", Occurrences: 1, Successes: 1},
	}
	hs := Heuristics(ps, 2)
	if len(hs) != 3 {
		t.Fatalf("got %d heuristics, want 3 (one pattern lacks evidence)", len(hs))
	}
	if hs[0].Confidence <= hs[1].Confidence {
		t.Errorf("45/50 should be more confident than 2/2: %v vs %v", hs[0].Confidence, hs[1].Confidence)
	}
	rec := Recommend(hs, 5)
	var keys []string
	for _, h := range rec {
		keys = append(keys, h.Key)
	}
	if diff := cmp.Diff([]string{"a > b", "c > d"}, keys); diff != "" {
		t.Errorf("Recommend keys (-want +got):\n%s", diff)
	}
}

func TestReflectNamesFailures(t *testing.T) {
	r := Reflect(Outcome{Status: OutcomeFailure, Reason: "disk full"},
		[]Step{{Seq: 1, Tool: "write", Result: StepResult{Status: StepError, Error: "ENOSPC"}, LatencyMS: 45_000}},
		ComplexityLow)
	want := []string{"write failed 1 of 1 times; last error: ENOSPC", "the task failed: disk full",
		"step 1 (write) took 45000 ms"}
	if diff := cmp.Diff(want, r.WhatToImprove); diff != "" {
		t.Errorf("WhatToImprove (-want +got):\n%s", diff)
	}
}
