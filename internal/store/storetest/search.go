package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

func candidateIDs(cs []memory.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func summaryIDs(cs []memory.Summary) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func testSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, NewEpisode("ep-db", "migrate the postgres schema", base))
	mustCreate(t, s, NewEpisode("ep-css", "style the login page", base.Add(time.Minute)))
	mustCreate(t, s, NewEpisode("ep-both", "postgres connection pool for the login page", base.Add(2*time.Minute)))
	mustAppend(t, s, "ep-css", NewStep("stylelint", memory.StepError, base))
	other := NewEpisode("ep-ops", "rotate postgres credentials", base.Add(3*time.Minute))
	other.Domain = "ops"
	mustCreate(t, s, other)

	tests := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"terms match description", store.Query{Terms: []string{"schema"}, Limit: 10}, []string{"ep-db"}},
		{"terms match steps", store.Query{Terms: []string{"stylelint"}, Limit: 10}, []string{"ep-css"}},
		{"stemmed term", store.Query{Terms: []string{"migrations"}, Limit: 10}, []string{"ep-db"}},
		{"domain filter", store.Query{Terms: []string{"postgres"}, Domain: "ops", Limit: 10}, []string{"ep-ops"}},
		{"no terms lists newest", store.Query{Domain: "backend", Limit: 2}, []string{"ep-both", "ep-css"}},
		{"completed only", store.Query{Terms: []string{"postgres"}, CompletedOnly: true, Limit: 10}, []string{}},
		{"no match", store.Query{Terms: []string{"kubernetes"}, Limit: 10}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Search(ctx, tt.q)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if diff := cmp.Diff(tt.want, candidateIDs(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}

	// Two matching terms outrank one.
	got, err := s.Search(ctx, store.Query{Terms: []string{"postgres", "login"}, Limit: 10})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(got) != 4 || got[0].ID != "ep-both" || got[0].Lexical <= got[1].Lexical {
		t.Errorf("want ep-both first with the highest score, got %+v", got)
	}
}

func testTags(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, NewEpisode("ep-a", "a", base))
	mustCreate(t, s, NewEpisode("ep-b", "b", base.Add(time.Second)))
	if _, err := s.AddTags(ctx, "ep-a", []string{"flaky"}); err != nil {
		t.Fatalf("AddTags: %v", err)
	}
	got, err := s.AddTags(ctx, "ep-b", []string{"flaky", "slow"})
	if err != nil {
		t.Fatalf("AddTags: %v", err)
	}
	if diff := cmp.Diff([]string{"api", "flaky", "http", "slow"}, got); diff != "" {
		t.Errorf("tags after add (-want +got):\n%s", diff)
	}
	if got, err = s.RemoveTags(ctx, "ep-b", []string{"http", "absent"}); err != nil {
		t.Fatalf("RemoveTags: %v", err)
	}
	if diff := cmp.Diff([]string{"api", "flaky", "slow"}, got); diff != "" {
		t.Errorf("tags after remove (-want +got):\n%s", diff)
	}

	many := make([]string, memory.MaxTags)
	for i := range many {
		many[i] = fmt.Sprintf("tag%02d", i)
	}
	var ve *memory.ValidationError
	if _, err := s.AddTags(ctx, "ep-a", many); !errors.As(err, &ve) {
		t.Errorf("AddTags past %d tags = %v, want a ValidationError", memory.MaxTags, err)
	}

	tests := []struct {
		tags     []string
		matchAll bool
		want     []string
	}{
		{[]string{"flaky"}, true, []string{"ep-b", "ep-a"}},
		{[]string{"flaky", "slow"}, true, []string{"ep-b"}},
		{[]string{"http", "slow"}, false, []string{"ep-b", "ep-a"}},
		{[]string{"http", "slow"}, true, []string{}},
	}
	for _, tt := range tests {
		got, err := s.SearchByTags(ctx, tt.tags, tt.matchAll, 10)
		if err != nil {
			t.Fatalf("SearchByTags: %v", err)
		}
		if diff := cmp.Diff(tt.want, summaryIDs(got)); diff != "" {
			t.Errorf("SearchByTags(%v, all=%v) (-want +got):\n%s", tt.tags, tt.matchAll, diff)
		}
	}
}

// testDeletedTextStaysGone deletes the newest episode and creates another:
// the new episode must not inherit the deleted one's words, even where the
// engine hands the deleted row's key to the next insert.
func testDeletedTextStaysGone(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, NewEpisode("ep-keep", "kept episode", base))
	mustCreate(t, s, NewEpisode("ep-gone", "zebra crossing", base.Add(time.Minute)))
	mustAppend(t, s, "ep-gone", NewStep("okapi", memory.StepSuccess, base))
	if err := s.DeleteEpisode(ctx, "ep-gone"); err != nil {
		t.Fatalf("DeleteEpisode: %v", err)
	}
	mustCreate(t, s, NewEpisode("ep-new", "quiet walrus", base.Add(2*time.Minute)))

	for _, term := range []string{"zebra", "okapi"} {
		got, err := s.Search(ctx, store.Query{Terms: []string{term}, Limit: 10})
		if err != nil || len(got) != 0 {
			t.Errorf("search for the deleted episode's %q = %v, %v; want nothing", term, candidateIDs(got), err)
		}
	}
	got, err := s.Search(ctx, store.Query{Terms: []string{"walrus"}, Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != "ep-new" {
		t.Errorf("search for the new episode = %v, %v; want ep-new", candidateIDs(got), err)
	}
}
