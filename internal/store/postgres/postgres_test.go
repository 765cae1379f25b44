package postgres_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/memorymcp/memory-mcp-operator/internal/store"
	"github.com/memorymcp/memory-mcp-operator/internal/store/postgres"
	"github.com/memorymcp/memory-mcp-operator/internal/store/storetest"
)

// URLEnv names the variable holding the test database URL.
const URLEnv = "MEMORY_MCP_TEST_POSTGRES_URL"

func testURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv(URLEnv)
	if url == "" {
		t.Skip("SKIPPING POSTGRES TESTS: set " + URLEnv +
			" (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them")
	}
	return url
}

// openSchema opens a store in a schema of its own, dropped at cleanup, so
// parallel runs and repeated runs never see each other's rows.
func openSchema(t *testing.T) store.Store {
	t.Helper()
	url := testURL(t)
	ctx := context.Background()
	schema := "memtest_" + strings.ToLower(rand.Text())
	s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := postgres.DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("DropSchema: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openSchema)
}
