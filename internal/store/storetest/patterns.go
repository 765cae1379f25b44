package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

func testPatterns(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, status := range []memory.OutcomeStatus{memory.OutcomeSuccess, memory.OutcomeSuccess,
		memory.OutcomeFailure} {
		id := fmt.Sprintf("ep-p%d", i)
		mustCreate(t, s, NewEpisode(id, "pattern source", base.Add(time.Duration(i)*time.Minute)))
		mustAppend(t, s, id, NewStep("build", memory.StepError, base))
		mustAppend(t, s, id, NewStep("fix", memory.StepSuccess, base))
		e, err := s.GetEpisode(ctx, id)
		if err != nil {
			t.Fatalf("GetEpisode: %v", err)
		}
		complete(t, s, e, memory.Outcome{Status: status, Reason: "broken"})
	}

	got, err := s.Patterns(ctx, store.PatternFilter{Kind: memory.PatternErrorRecovery, Limit: 10})
	if err != nil {
		t.Fatalf("Patterns: %v", err)
	}
	want := []memory.Pattern{{
		Kind: memory.PatternErrorRecovery, Domain: "backend", Key: "build -> fix",
		Description: "after build failed, fix succeeded", Occurrences: 3, Successes: 2,
		SuccessRate: 2.0 / 3, Evidence: []string{"ep-p0", "ep-p1", "ep-p2"},
	}}
	opts := []cmp.Option{cmpopts.IgnoreFields(memory.Pattern{}, "LastSeen"),
		cmpopts.SortSlices(func(a, b string) bool { return a < b })}
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Errorf("patterns (-want +got):\n%s", diff)
	}

	got, err = s.Patterns(ctx, store.PatternFilter{KeyContains: "BUILD", MinOccurrences: 3, Limit: 10})
	if err != nil {
		t.Fatalf("Patterns: %v", err)
	}
	if len(got) != 2 {
		t.Errorf("patterns matching build with 3 occurrences: got %d, want 2 (sequence, recovery)", len(got))
	}
	// LIKE's wildcards in the text are matched as themselves.
	for _, text := range []string{"b_ild", "%"} {
		got, err = s.Patterns(ctx, store.PatternFilter{KeyContains: text, Limit: 10})
		if err != nil || len(got) != 0 {
			t.Errorf("patterns containing %q: got %d, %v; want none", text, len(got), err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if diff := cmp.Diff(store.Stats{Episodes: 3, CompletedEpisodes: 3, Steps: 6, Patterns: 3}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	e := NewEpisode("ep-del", "delete me soon", base)
	mustCreate(t, s, e)
	mustAppend(t, s, e.ID, NewStep("rm", memory.StepSuccess, base))
	if err := s.DeleteEpisode(ctx, e.ID); err != nil {
		t.Fatalf("DeleteEpisode: %v", err)
	}
	if _, err := s.GetEpisode(ctx, e.ID); err == nil {
		t.Error("episode still readable after delete")
	}
	got, err := s.Search(ctx, store.Query{Terms: []string{"delete"}, Limit: 10})
	if err != nil || len(got) != 0 {
		t.Errorf("search after delete: %v, %v", candidateIDs(got), err)
	}
	tagged, err := s.SearchByTags(ctx, []string{"api"}, true, 10)
	if err != nil || len(tagged) != 0 {
		t.Errorf("tag search after delete: %v, %v", summaryIDs(tagged), err)
	}
}

func testEmbedding(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, NewEpisode("ep-vec", "vector episode", base))
	vec := []float32{0.25, -1, 3.5}
	if err := s.SetEmbedding(ctx, "ep-vec", vec); err != nil {
		t.Fatalf("SetEmbedding: %v", err)
	}
	got, err := s.Search(ctx, store.Query{Terms: []string{"vector"}, Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("Search: %v, %v", got, err)
	}
	if diff := cmp.Diff(vec, got[0].Embedding); diff != "" {
		t.Errorf("embedding (-want +got):\n%s", diff)
	}
}
