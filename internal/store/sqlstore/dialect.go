package sqlstore

import (
	"context"

	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// Dialect is what differs between SQL engines.
type Dialect interface {
	// Name is used in error messages.
	Name() string
	// LockMigrations serialises migrations among replicas starting at once;
	// it runs inside the migration transaction.
	LockMigrations(ctx context.Context, q Querier) error
	// IndexEpisode adds the first text of the episode with key seq.
	IndexEpisode(ctx context.Context, q Querier, seq int64, text string) error
	// AppendIndex adds text to the index entry of episode seq.
	AppendIndex(ctx context.Context, q Querier, seq int64, text string) error
	// UnindexEpisode removes the index entry of episode seq.
	UnindexEpisode(ctx context.Context, q Querier, seq int64) error
}

// SQLSearcher is a dialect whose full-text index lives in the database.
type SQLSearcher interface {
	// SearchSQL returns a query selecting SummaryColumns (qualified with
	// the alias e) followed by a relevance score, higher is better.
	SearchSQL(q store.Query) (string, []any)
}

// IndexSearcher is a dialect whose full-text index lives in memory.
type IndexSearcher interface {
	// SearchIndex returns up to limit episode seqs with relevance scores,
	// best first.
	SearchIndex(terms []string, limit int) []Hit
}

// Hit is an episode found by an IndexSearcher.
type Hit struct {
	Seq   int64
	Score float64
}
