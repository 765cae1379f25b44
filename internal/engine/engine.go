// Package engine is the episodic memory service: it validates input,
// scores completions, ranks queries and keeps embeddings, over a
// store.Store. The MCP tools are a thin layer on top of it.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/embeddings"
	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// Embedder computes vectors for texts.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Engine serves episodic memory over a store. Safe for concurrent use.
type Engine struct {
	store    store.Store
	log      *slog.Logger
	now      func() time.Time
	embedder atomic.Pointer[embedderState]
}

type embedderState struct {
	Embedder
	cfg embeddings.Config
}

// New returns an engine over s; log may be nil.
func New(s store.Store, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: s, log: log, now: func() time.Time { return time.Now().UTC() }}
}

// Store returns the engine's store.
func (e *Engine) Store() store.Store { return e.store }

// SetEmbedder turns semantic similarity on (or off, with nil).
func (e *Engine) SetEmbedder(emb Embedder, cfg embeddings.Config) {
	if emb == nil {
		e.embedder.Store(nil)
		return
	}
	e.embedder.Store(&embedderState{Embedder: emb, cfg: cfg})
}

// EmbeddingConfig returns the active provider config, if any.
func (e *Engine) EmbeddingConfig() (embeddings.Config, bool) {
	if st := e.embedder.Load(); st != nil {
		return st.cfg, true
	}
	return embeddings.Config{}, false
}

// newID returns a random, URL-safe episode id.
func newID() string { return "ep_" + strings.ToLower(rand.Text()) }

// CreateEpisode validates and stores a new episode.
func (e *Engine) CreateEpisode(ctx context.Context, ep *memory.Episode) (*memory.Episode, error) {
	if err := memory.ValidateEpisode(ep); err != nil {
		return nil, err
	}
	now := e.now()
	ep.ID, ep.CreatedAt, ep.UpdatedAt = newID(), now, now
	ep.Tags = memory.NormalizeTags(ep.Tags)
	if err := e.store.CreateEpisode(ctx, ep); err != nil {
		return nil, fmt.Errorf("storing episode: %w", err)
	}
	e.embed(ctx, ep)
	return ep, nil
}

// embed stores the episode's vector when embeddings are on. A provider
// failure is logged, not returned: the episode is stored and stays
// findable lexically, and failing the call would make the agent retry a
// create that already succeeded.
func (e *Engine) embed(ctx context.Context, ep *memory.Episode) {
	st := e.embedder.Load()
	if st == nil {
		return
	}
	vecs, err := st.Embed(ctx, []string{ep.TaskDescription})
	if err == nil {
		err = e.store.SetEmbedding(ctx, ep.ID, vecs[0])
	}
	if err != nil {
		e.log.WarnContext(ctx, "embedding episode failed", "episode_id", ep.ID, "error", err)
	}
}

// AddStep validates and durably stores a step.
func (e *Engine) AddStep(ctx context.Context, id string, st memory.Step) (memory.Step, error) {
	if err := memory.ValidateStep(&st); err != nil {
		return memory.Step{}, err
	}
	st.At = e.now()
	return e.store.AppendStep(ctx, id, st)
}

// Complete scores, reflects on and extracts patterns from an episode, then
// stores all of it at once. Any valid outcome completes any open episode,
// with or without steps.
func (e *Engine) Complete(ctx context.Context, id string, o memory.Outcome) (*memory.Episode, error) {
	if err := memory.ValidateOutcome(&o); err != nil {
		return nil, err
	}
	ep, err := e.store.GetEpisode(ctx, id)
	if err != nil {
		return nil, err
	}
	if ep.Completed() {
		return nil, fmt.Errorf("episode %s: %w", id, memory.ErrAlreadyCompleted)
	}
	at := e.now()
	c := memory.Completion{
		Outcome:    o,
		Reward:     memory.ScoreReward(o, ep.Steps, ep.Context.Complexity),
		Reflection: memory.Reflect(o, ep.Steps, ep.Context.Complexity),
		At:         at,
	}
	if err := e.store.CompleteEpisode(ctx, id, c, memory.ExtractPatterns(ep, o, at)); err != nil {
		return nil, err
	}
	ep.Outcome, ep.Reward, ep.Reflection, ep.CompletedAt = &c.Outcome, &c.Reward, &c.Reflection, &at
	ep.UpdatedAt = at
	return ep, nil
}

// Get returns an episode with its steps.
func (e *Engine) Get(ctx context.Context, id string) (*memory.Episode, error) {
	return e.store.GetEpisode(ctx, id)
}

// Delete removes an episode.
func (e *Engine) Delete(ctx context.Context, id string) error {
	return e.store.DeleteEpisode(ctx, id)
}

// AddTags adds tags to an episode.
func (e *Engine) AddTags(ctx context.Context, id string, tags []string) ([]string, error) {
	if err := validateTagArg(tags); err != nil {
		return nil, err
	}
	return e.store.AddTags(ctx, id, memory.NormalizeTags(tags))
}

// RemoveTags removes tags from an episode.
func (e *Engine) RemoveTags(ctx context.Context, id string, tags []string) ([]string, error) {
	if err := validateTagArg(tags); err != nil {
		return nil, err
	}
	return e.store.RemoveTags(ctx, id, memory.NormalizeTags(tags))
}

// SearchByTags lists episodes by tag.
func (e *Engine) SearchByTags(ctx context.Context, tags []string, matchAll bool,
	limit int) ([]memory.Summary, error) {
	if err := validateTagArg(tags); err != nil {
		return nil, err
	}
	return e.store.SearchByTags(ctx, memory.NormalizeTags(tags), matchAll, clampLimit(limit, 20, 200))
}

func validateTagArg(tags []string) error {
	if len(tags) == 0 {
		return &memory.ValidationError{Field: "tags", Reason: "give at least one tag"}
	}
	return memory.ValidateTags(tags)
}

func clampLimit(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

func isNotFound(err error) bool { return errors.Is(err, memory.ErrNotFound) }
