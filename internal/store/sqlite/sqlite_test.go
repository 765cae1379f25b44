package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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

func TestReopenKeepsSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "memory.db")
	for range 2 {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != 2 {
			t.Errorf("SchemaVersion = %d, %v; want 2", v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}
