// Package storetest is the conformance suite every store.Store passes.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// Factory returns an empty store that the test may use alone; it registers
// its own cleanup.
type Factory func(t *testing.T) store.Store

// Run runs the suite against stores from newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"EpisodeRoundTrip", testEpisodeRoundTrip},
		{"StepsAfterCompletion", testStepsAfterCompletion},
		{"NotFound", testNotFound},
		{"ConcurrentSteps", testConcurrentSteps},
		{"Search", testSearch},
		{"Tags", testTags},
		{"Patterns", testPatterns},
		{"Delete", testDelete},
		{"DeletedTextStaysGone", testDeletedTextStaysGone},
		{"Embedding", testEmbedding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// NewEpisode returns a valid open episode.
func NewEpisode(id, desc string, at time.Time) *memory.Episode {
	return &memory.Episode{
		ID: id, TaskDescription: desc, Domain: "backend", TaskType: "bugfix",
		Context: memory.Context{Language: "go", Framework: "net/http", Complexity: "medium"},
		Tags:    []string{"api", "http"}, CreatedAt: at, UpdatedAt: at,
	}
}

// NewStep returns a valid step.
func NewStep(tool string, status memory.StepStatus, at time.Time) memory.Step {
	return memory.Step{Tool: tool, Action: "run " + tool, Parameters: []byte(`{"arg":1}`),
		Result: memory.StepResult{Status: status, Output: "ok"}, LatencyMS: 12, Tokens: 40, At: at}
}

func mustCreate(t *testing.T, s store.Store, e *memory.Episode) {
	t.Helper()
	if err := s.CreateEpisode(context.Background(), e); err != nil {
		t.Fatalf("CreateEpisode: %v", err)
	}
}

func mustAppend(t *testing.T, s store.Store, id string, st memory.Step) memory.Step {
	t.Helper()
	got, err := s.AppendStep(context.Background(), id, st)
	if err != nil {
		t.Fatalf("AppendStep: %v", err)
	}
	return got
}

func complete(t *testing.T, s store.Store, e *memory.Episode, o memory.Outcome) {
	t.Helper()
	c := memory.Completion{Outcome: o, Reward: memory.ScoreReward(o, e.Steps, e.Context.Complexity),
		Reflection: memory.Reflect(o, e.Steps, e.Context.Complexity), At: base.Add(time.Hour)}
	if err := s.CompleteEpisode(context.Background(), e.ID, c,
		memory.ExtractPatterns(e, o, c.At)); err != nil {
		t.Fatalf("CompleteEpisode: %v", err)
	}
}

func testEpisodeRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := NewEpisode("ep-1", "fix the flaky handler test", base)
	mustCreate(t, s, e)
	for i, tool := range []string{"grep", "edit", "go_test"} {
		st := mustAppend(t, s, e.ID, NewStep(tool, memory.StepSuccess, base.Add(time.Duration(i)*time.Second)))
		if st.Seq != i+1 {
			t.Errorf("step %d got seq %d", i, st.Seq)
		}
	}
	stored, err := s.GetEpisode(ctx, e.ID)
	if err != nil {
		t.Fatalf("GetEpisode: %v", err)
	}
	complete(t, s, stored, memory.Outcome{Status: memory.OutcomeSuccess, Verdict: "green"})

	got, err := s.GetEpisode(ctx, e.ID)
	if err != nil {
		t.Fatalf("GetEpisode: %v", err)
	}
	want := *stored
	want.StepCount = 3
	want.Outcome = &memory.Outcome{Status: memory.OutcomeSuccess, Verdict: "green"}
	r := memory.ScoreReward(*want.Outcome, stored.Steps, "medium")
	want.Reward = &r
	refl := memory.Reflect(*want.Outcome, stored.Steps, "medium")
	want.Reflection = &refl
	done := base.Add(time.Hour)
	want.CompletedAt, want.UpdatedAt = &done, done
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("episode after completion (-want +got):\n%s", diff)
	}
}

func testStepsAfterCompletion(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := NewEpisode("ep-done", "finish quickly", base)
	mustCreate(t, s, e)
	complete(t, s, e, memory.Outcome{Status: memory.OutcomeSuccess})

	_, err := s.AppendStep(ctx, e.ID, NewStep("late", memory.StepSuccess, base))
	if !errors.Is(err, memory.ErrAlreadyCompleted) {
		t.Errorf("AppendStep after completion: got %v, want ErrAlreadyCompleted", err)
	}
	err = s.CompleteEpisode(ctx, e.ID, memory.Completion{At: base}, nil)
	if !errors.Is(err, memory.ErrAlreadyCompleted) {
		t.Errorf("second completion: got %v, want ErrAlreadyCompleted", err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["GetEpisode"] = s.GetEpisode(ctx, "missing")
	_, checks["AppendStep"] = s.AppendStep(ctx, "missing", NewStep("x", memory.StepSuccess, base))
	checks["CompleteEpisode"] = s.CompleteEpisode(ctx, "missing", memory.Completion{At: base}, nil)
	checks["DeleteEpisode"] = s.DeleteEpisode(ctx, "missing")
	_, checks["AddTags"] = s.AddTags(ctx, "missing", []string{"x"})
	checks["SetEmbedding"] = s.SetEmbedding(ctx, "missing", []float32{1})
	for op, err := range checks {
		if !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("%s on a missing episode: got %v, want ErrNotFound", op, err)
		}
	}
}

// testConcurrentSteps appends from several goroutines and expects every
// step stored once with distinct, gapless numbers.
func testConcurrentSteps(t *testing.T, s store.Store) {
	e := NewEpisode("ep-conc", "parallel steps", base)
	mustCreate(t, s, e)
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				tool := fmt.Sprintf("tool-%d-%d", w, i)
				if _, err := s.AppendStep(context.Background(), e.ID,
					NewStep(tool, memory.StepSuccess, base)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent AppendStep: %v", err)
	}
	got, err := s.GetEpisode(context.Background(), e.ID)
	if err != nil {
		t.Fatalf("GetEpisode: %v", err)
	}
	if len(got.Steps) != workers*each || got.StepCount != workers*each {
		t.Fatalf("got %d steps (count %d), want %d", len(got.Steps), got.StepCount, workers*each)
	}
	for i, st := range got.Steps {
		if st.Seq != i+1 {
			t.Fatalf("step %d has seq %d", i, st.Seq)
		}
	}
}

// StepLimit fills an episode to memory.MaxStepsPerEpisode and expects the
// next step refused, naming what to do, and completion still allowed. It
// is not part of Run: ten thousand durable appends take a while, so a
// store runs it where appends are cheap.
func StepLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := NewEpisode("ep-full", "a very long episode", base)
	mustCreate(t, s, e)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < memory.MaxStepsPerEpisode; i += workers {
				if _, err := s.AppendStep(ctx, e.ID, NewStep("loop", memory.StepSuccess, base)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AppendStep below the limit: %v", err)
	}

	_, err := s.AppendStep(ctx, e.ID, NewStep("one-more", memory.StepSuccess, base))
	var ve *memory.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("AppendStep past the limit = %v, want a ValidationError", err)
	}
	got, err := s.GetEpisode(ctx, e.ID)
	if err != nil {
		t.Fatalf("GetEpisode: %v", err)
	}
	if got.StepCount != memory.MaxStepsPerEpisode || len(got.Steps) != memory.MaxStepsPerEpisode {
		t.Errorf("episode holds %d steps (count %d), want %d", len(got.Steps), got.StepCount,
			memory.MaxStepsPerEpisode)
	}
	complete(t, s, got, memory.Outcome{Status: memory.OutcomeSuccess})
}
