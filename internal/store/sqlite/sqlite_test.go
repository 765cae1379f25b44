package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"

	"github.com/memorymcp/memory-mcp-operator/internal/store"
	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlite"
	"github.com/memorymcp/memory-mcp-operator/internal/store/storetest"
)

func openTemp(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "memory.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTemp)
}

// TestReopenRebuildsIndex checks the schema version and that the
// in-memory index finds episodes and steps stored before a restart.
func TestReopenRebuildsIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "memory.db")
	at := time.Now()
	for i := range 2 {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if i == 0 {
			if err := s.CreateEpisode(ctx, storetest.NewEpisode("ep-r", "reopen me", at)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendStep(ctx, "ep-r", storetest.NewStep("quokka", memory.StepSuccess, at)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Search(ctx, store.Query{Terms: []string{"quokka"}, Limit: 5})
		if err != nil || len(got) != 1 || got[0].ID != "ep-r" {
			t.Errorf("open %d: search for a step's tool = %v, %v", i, got, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != 1 {
			t.Errorf("SchemaVersion = %d, %v; want 1", v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestStepLimit runs storetest.StepLimit without fsync, which only makes
// it quicker: the limit lives in SQL that PostgreSQL shares.
func TestStepLimit(t *testing.T) {
	s, err := sqlite.OpenWithOptions(context.Background(), filepath.Join(t.TempDir(), "memory.db"),
		sqlite.Options{UnsafeNoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	storetest.StepLimit(t, s)
}
