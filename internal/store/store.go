// Package store defines what the memory engine needs from persistent
// storage. Implementations live in sub-packages and share one conformance
// suite, storetest.
package store

import (
	"context"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
)

// Store persists episodes, their steps and merged patterns.
//
// Every method is safe for concurrent use. Errors wrap memory.ErrNotFound
// or memory.ErrAlreadyCompleted where those apply, so callers can tell a
// caller's mistake from a storage failure.
type Store interface {
	// CreateEpisode stores a new episode; e.ID, CreatedAt and UpdatedAt
	// must be set by the caller.
	CreateEpisode(ctx context.Context, e *memory.Episode) error
	// AppendStep stores a step durably and returns it with its sequence
	// number. It fails with ErrAlreadyCompleted on a completed episode, and
	// with a *memory.ValidationError once the episode holds
	// memory.MaxStepsPerEpisode steps.
	AppendStep(ctx context.Context, episodeID string, s memory.Step) (memory.Step, error)
	// CompleteEpisode records the completion and merges the observations
	// into patterns in one transaction. A second completion fails with
	// ErrAlreadyCompleted.
	CompleteEpisode(ctx context.Context, id string, c memory.Completion, obs []memory.Observation) error
	// GetEpisode returns an episode with its steps in order.
	GetEpisode(ctx context.Context, id string) (*memory.Episode, error)
	// DeleteEpisode removes an episode, its steps, tags and pattern evidence.
	// Pattern counts keep the episode's contribution.
	DeleteEpisode(ctx context.Context, id string) error
	// AddTags and RemoveTags change an episode's tags and return the result.
	// AddTags fails with a *memory.ValidationError when the episode would
	// hold more than memory.MaxTags.
	AddTags(ctx context.Context, id string, tags []string) ([]string, error)
	RemoveTags(ctx context.Context, id string, tags []string) ([]string, error)
	// SearchByTags lists episodes holding all (or, with matchAll false,
	// any) of tags, newest first.
	SearchByTags(ctx context.Context, tags []string, matchAll bool, limit int) ([]memory.Summary, error)
	// Search returns up to q.Limit episodes matching any of q.Terms by full-
	// text relevance, or the newest episodes when q.Terms is empty.
	Search(ctx context.Context, q Query) ([]memory.Candidate, error)
	// SetEmbedding stores the vector of an episode's description.
	SetEmbedding(ctx context.Context, id string, vec []float32) error
	// Patterns lists merged patterns, most frequent first.
	Patterns(ctx context.Context, f PatternFilter) ([]memory.Pattern, error)
	// Stats counts what the store holds.
	Stats(ctx context.Context) (Stats, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// Query selects full-text candidates.
type Query struct {
	// Terms are the words to match, as produced by memory.Terms.
	Terms    []string
	Domain   string
	TaskType string
	// CompletedOnly leaves out episodes without an outcome.
	CompletedOnly bool
	Limit         int
}

// PatternFilter selects patterns.
type PatternFilter struct {
	Kind           memory.PatternKind
	Domain         string
	KeyContains    string
	MinOccurrences int
	Limit          int
}

// Stats counts stored objects.
type Stats struct {
	Episodes          int64 `json:"episodes"`
	CompletedEpisodes int64 `json:"completed_episodes"`
	Steps             int64 `json:"steps"`
	Patterns          int64 `json:"patterns"`
}

// MaxEvidence bounds the episode ids kept as evidence per pattern.
const MaxEvidence = 10

// UnixNano and FromUnixNano convert the timestamps stores keep as
// integers, which sort and compare identically in SQLite and PostgreSQL.
func UnixNano(t time.Time) int64 { return t.UnixNano() }

// FromUnixNano is the inverse of UnixNano, in UTC.
func FromUnixNano(n int64) time.Time { return time.Unix(0, n).UTC() }
