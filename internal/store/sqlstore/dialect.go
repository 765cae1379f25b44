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
	// SearchSQL returns a query selecting summaryColumns (qualified with
	// the alias e) followed by a relevance score, higher is better.
	SearchSQL(q store.Query) (string, []any)
}

// TermPruner is implemented by dialects that drop query terms too common
// to be worth their cost.
type TermPruner interface {
	PruneTerms(ctx context.Context, q Querier, terms []string) ([]string, error)
}
