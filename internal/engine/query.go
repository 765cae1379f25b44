package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// Query asks for episodes relevant to a task.
type Query struct {
	Text          string
	Context       memory.QueryContext
	CompletedOnly bool
	Limit         int
}

// candidatePool is how many lexical candidates are re-ranked per query:
// enough that context, recency and reward can reorder the top results,
// few enough to keep a query in single milliseconds.
const candidatePool = 100

// QueryMemory returns episodes ranked by relevance, context, recency and
// reward, with the parts of each score.
func (e *Engine) QueryMemory(ctx context.Context, q Query) ([]memory.Ranked, error) {
	limit := clampLimit(q.Limit, 10, 100)
	sq := store.Query{Terms: memory.Terms(q.Text), CompletedOnly: q.CompletedOnly,
		Limit: max(candidatePool, limit)}
	cands, err := e.store.Search(ctx, sq)
	if err != nil {
		return nil, fmt.Errorf("searching: %w", err)
	}
	weights := memory.DefaultWeights
	if st := e.embedder.Load(); st != nil && q.Text != "" {
		if cands, err = e.addSemantic(ctx, st, q.Text, sq, cands); err != nil {
			e.log.WarnContext(ctx, "semantic ranking skipped", "error", err)
		} else {
			weights = memory.SemanticWeights
		}
	}
	ranked := memory.Rank(cands, q.Context, e.now(), weights)
	return ranked[:min(limit, len(ranked))], nil
}

// addSemantic scores candidates by cosine similarity to the query. The
// newest episodes join the lexical candidates so that a paraphrase with no
// shared word can still be found.
//
// Limitation: semantic matches older than the newest candidatePool
// episodes are only found when they also match lexically; a vector index
// (pgvector, sqlite-vec) would lift this.
func (e *Engine) addSemantic(ctx context.Context, st *embedderState, text string,
	sq store.Query, cands []memory.Candidate) ([]memory.Candidate, error) {
	vecs, err := st.Embed(ctx, []string{text})
	if err != nil {
		return cands, fmt.Errorf("embedding query: %w", err)
	}
	sq.Terms = nil
	recent, err := e.store.Search(ctx, sq)
	if err != nil {
		return cands, fmt.Errorf("listing recent episodes: %w", err)
	}
	seen := make(map[string]bool, len(cands))
	for _, c := range cands {
		seen[c.ID] = true
	}
	for _, c := range recent {
		if !seen[c.ID] {
			cands = append(cands, c)
		}
	}
	for i := range cands {
		cands[i].Semantic = max(0, memory.Cosine(vecs[0], cands[i].Embedding))
	}
	return cands, nil
}

// Analysis is the result of analysing merged patterns.
type Analysis struct {
	Patterns   []memory.Pattern   `json:"patterns"`
	Heuristics []memory.Heuristic `json:"heuristics"`
}

// minEvidence is the fewest episodes a pattern needs to become advice.
const minEvidence = 2

// AnalyzePatterns lists patterns matching f and the heuristics they support.
func (e *Engine) AnalyzePatterns(ctx context.Context, f store.PatternFilter) (Analysis, error) {
	f.Limit = clampLimit(f.Limit, 50, 500)
	ps, err := e.store.Patterns(ctx, f)
	if err != nil {
		return Analysis{}, err
	}
	hs := memory.Heuristics(ps, minEvidence)
	if hs == nil {
		hs = []memory.Heuristic{}
	}
	return Analysis{Patterns: ps, Heuristics: hs}, nil
}

// Recommend returns the most confident positive heuristics for a task
// context, preferring the caller's domain and falling back to all domains.
func (e *Engine) Recommend(ctx context.Context, qc memory.QueryContext, limit int) ([]memory.Heuristic, error) {
	limit = clampLimit(limit, 5, 50)
	f := store.PatternFilter{Domain: qc.Domain, MinOccurrences: minEvidence, Limit: 500}
	ps, err := e.store.Patterns(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 && qc.Domain != "" {
		f.Domain = ""
		if ps, err = e.store.Patterns(ctx, f); err != nil {
			return nil, err
		}
	}
	return memory.Recommend(memory.Heuristics(ps, minEvidence), limit), nil
}

// Timeline is an episode's steps placed in time.
type Timeline struct {
	EpisodeID   string          `json:"episode_id"`
	CreatedAt   time.Time       `json:"created_at"`
	CompletedAt *time.Time      `json:"completed_at,omitempty"`
	Events      []TimelineEvent `json:"events"`
}

// TimelineEvent is one step with its offset from the episode's start.
type TimelineEvent struct {
	Seq       int               `json:"seq"`
	OffsetMS  int64             `json:"offset_ms"`
	GapMS     int64             `json:"gap_ms"`
	Tool      string            `json:"tool"`
	Action    string            `json:"action"`
	Status    memory.StepStatus `json:"status"`
	LatencyMS int64             `json:"latency_ms"`
	Tokens    int64             `json:"tokens"`
	At        time.Time         `json:"at"`
}

// Timeline returns the episode's steps in order with their timing.
func (e *Engine) Timeline(ctx context.Context, id string) (Timeline, error) {
	ep, err := e.store.GetEpisode(ctx, id)
	if err != nil {
		return Timeline{}, err
	}
	tl := Timeline{EpisodeID: id, CreatedAt: ep.CreatedAt, CompletedAt: ep.CompletedAt,
		Events: make([]TimelineEvent, 0, len(ep.Steps))}
	prev := ep.CreatedAt
	for _, s := range ep.Steps {
		tl.Events = append(tl.Events, TimelineEvent{
			Seq: s.Seq, OffsetMS: s.At.Sub(ep.CreatedAt).Milliseconds(),
			GapMS: s.At.Sub(prev).Milliseconds(), Tool: s.Tool, Action: s.Action,
			Status: s.Result.Status, LatencyMS: s.LatencyMS, Tokens: s.Tokens, At: s.At,
		})
		prev = s.At
	}
	return tl, nil
}

// MaxBulk bounds one bulk request.
const MaxBulk = 100

// BulkGet returns the episodes named by ids and the ids not found.
func (e *Engine) BulkGet(ctx context.Context, ids []string) ([]*memory.Episode, []string, error) {
	if len(ids) == 0 || len(ids) > MaxBulk {
		return nil, nil, &memory.ValidationError{Field: "episode_ids",
			Reason: fmt.Sprintf("give between 1 and %d ids, got %d", MaxBulk, len(ids))}
	}
	eps := []*memory.Episode{}
	missing := []string{}
	for _, id := range ids {
		ep, err := e.store.GetEpisode(ctx, id)
		switch {
		case err == nil:
			eps = append(eps, ep)
		case isNotFound(err):
			missing = append(missing, id)
		default:
			return nil, nil, err
		}
	}
	return eps, missing, nil
}
