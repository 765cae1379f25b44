package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
	"github.com/memorymcp/memory-mcp-operator/internal/store/postgres"
	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlstore"
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
	s, _ := openNamedSchema(t)
	return s
}

// openNamedSchema is openSchema, also returning the schema's name.
func openNamedSchema(t *testing.T) (*sqlstore.Store, string) {
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
	return s, schema
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openSchema)
}

// TestConcurrentOpen opens several stores on one empty schema at once, as
// the replicas of a Deployment do when they start together, and expects
// each to find the schema migrated exactly once.
func TestConcurrentOpen(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	schema := "memtest_" + strings.ToLower(rand.Text())
	// The schema exists before the replicas start, as it does in production.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	if cerr := conn.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		if err := postgres.DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("DropSchema: %v", err)
		}
	})

	const replicas = 8
	errs := make(chan error, replicas)
	var wg sync.WaitGroup
	for range replicas {
		wg.Go(func() {
			s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
			if err == nil {
				var v int64
				if v, err = s.SchemaVersion(ctx); err == nil && v != 1 {
					err = fmt.Errorf("schema version %d, want 1", v)
				}
				err = errors.Join(err, s.Close())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("replica Open: %v", err)
		}
	}
}

// TestStepTextIsBounded logs steps with long texts and expects the
// episode's search text to stop growing, so the cost of one more step does
// not grow with the episode, while the first steps stay searchable.
func TestStepTextIsBounded(t *testing.T) {
	s, schema := openNamedSchema(t)
	ctx := context.Background()
	at := time.Now()
	if err := s.CreateEpisode(ctx, storetest.NewEpisode("ep-long", "long episode", at)); err != nil {
		t.Fatal(err)
	}
	const steps = 40
	for i := range steps {
		st := storetest.NewStep(fmt.Sprintf("tool%d", i), memory.StepSuccess, at)
		st.Action = strings.Repeat(fmt.Sprintf("word%d ", i), memory.MaxStepTextLen/8)
		if _, err := s.AppendStep(ctx, "ep-long", st); err != nil {
			t.Fatalf("AppendStep %d: %v", i, err)
		}
	}

	conn, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int
	err = conn.QueryRow(ctx, "SELECT length(search_text) FROM "+
		pgx.Identifier{schema, "episodes"}.Sanitize()+" WHERE id = 'ep-long'").Scan(&n)
	if err != nil {
		t.Fatalf("reading search text: %v", err)
	}
	// Without a bound it holds every step: about steps × MaxStepTextLen.
	if limit := 64 << 10; n > limit {
		t.Errorf("search text is %d characters after %d long steps, want at most %d", n, steps, limit)
	}
	got, err := s.Search(ctx, store.Query{Terms: []string{"tool0"}, Limit: 5})
	if err != nil || len(got) != 1 {
		t.Errorf("search for the first step's tool = %v, %v; want ep-long", got, err)
	}
}
