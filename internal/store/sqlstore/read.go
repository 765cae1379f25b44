package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// GetEpisode implements store.Store.
func (s *Store) GetEpisode(ctx context.Context, id string) (*memory.Episode, error) {
	e := &memory.Episode{ID: id}
	var (
		complexity, tags            string
		outcome, reward, reflection sql.NullString
		created, updated            int64
		completed                   sql.NullInt64
	)
	err := s.db.QueryRow(ctx, `SELECT task_description, domain, task_type, language,
		framework, complexity, tags, step_count, outcome, reward, reflection,
		created_at, updated_at, completed_at FROM episodes WHERE id = ?`, id).Scan(
		&e.TaskDescription, &e.Domain, &e.TaskType, &e.Context.Language, &e.Context.Framework,
		&complexity, &tags, &e.StepCount, &outcome, &reward, &reflection,
		&created, &updated, &completed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("episode %s: %w", id, memory.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading episode: %w", err)
	}
	e.Context.Complexity = memory.Complexity(complexity)
	e.CreatedAt, e.UpdatedAt = store.FromUnixNano(created), store.FromUnixNano(updated)
	if completed.Valid {
		t := store.FromUnixNano(completed.Int64)
		e.CompletedAt = &t
	}
	if err := decodeEpisodeJSON(e, tags, outcome, reward, reflection); err != nil {
		return nil, err
	}
	if e.Steps, err = s.steps(ctx, id); err != nil {
		return nil, err
	}
	return e, nil
}

func decodeEpisodeJSON(e *memory.Episode, tags string, outcome, reward, reflection sql.NullString) error {
	if err := json.Unmarshal([]byte(tags), &e.Tags); err != nil {
		return fmt.Errorf("decoding tags of %s: %w", e.ID, err)
	}
	if outcome.Valid {
		e.Outcome, e.Reward, e.Reflection = &memory.Outcome{}, &memory.Reward{}, &memory.Reflection{}
		for _, p := range []struct {
			s string
			v any
		}{{outcome.String, e.Outcome}, {reward.String, e.Reward}, {reflection.String, e.Reflection}} {
			if err := json.Unmarshal([]byte(p.s), p.v); err != nil {
				return fmt.Errorf("decoding completion of %s: %w", e.ID, err)
			}
		}
	}
	return nil
}

func (s *Store) steps(ctx context.Context, id string) ([]memory.Step, error) {
	rows, err := s.db.Query(ctx, `SELECT seq, tool, action, parameters, status, output, error,
		latency_ms, tokens, at FROM steps WHERE episode_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("reading steps: %w", err)
	}
	defer rows.Close()
	steps := []memory.Step{}
	for rows.Next() {
		var (
			st             memory.Step
			params, status string
			at             int64
		)
		err := rows.Scan(&st.Seq, &st.Tool, &st.Action, &params, &status, &st.Result.Output,
			&st.Result.Error, &st.LatencyMS, &st.Tokens, &at)
		if err != nil {
			return nil, fmt.Errorf("reading step: %w", err)
		}
		if params != "" {
			st.Parameters = json.RawMessage(params)
		}
		st.Result.Status, st.At = memory.StepStatus(status), store.FromUnixNano(at)
		steps = append(steps, st)
	}
	return steps, rows.Err()
}

// DeleteEpisode implements store.Store.
func (s *Store) DeleteEpisode(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(q Querier) error {
		var seq int64
		err := q.QueryRow(ctx, `DELETE FROM episodes WHERE id = ? RETURNING seq`, id).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("episode %s: %w", id, memory.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("deleting episode: %w", err)
		}
		return s.dialect.UnindexEpisode(ctx, q, seq)
	})
}

// AddTags implements store.Store.
func (s *Store) AddTags(ctx context.Context, id string, tags []string) ([]string, error) {
	return s.changeTags(ctx, id, func(q Querier, cur []string) ([]string, error) {
		out := memory.NormalizeTags(append(cur, tags...))
		if len(out) > memory.MaxTags {
			return nil, &memory.ValidationError{Field: "tags", Reason: fmt.Sprintf(
				"episode %s would have %d tags, at most %d are kept; remove some first",
				id, len(out), memory.MaxTags)}
		}
		return out, insertTags(ctx, q, id, tags)
	})
}

// RemoveTags implements store.Store.
func (s *Store) RemoveTags(ctx context.Context, id string, tags []string) ([]string, error) {
	return s.changeTags(ctx, id, func(q Querier, cur []string) ([]string, error) {
		drop := map[string]bool{}
		out := []string{}
		for _, t := range tags {
			drop[t] = true
			if _, err := q.Exec(ctx, `DELETE FROM episode_tags WHERE tag = ? AND episode_id = ?`,
				t, id); err != nil {
				return nil, fmt.Errorf("removing tag: %w", err)
			}
		}
		for _, t := range cur {
			if !drop[t] {
				out = append(out, t)
			}
		}
		return out, nil
	})
}

// changeTags applies change to the episode's tag list under the row lock
// taken by the first update, so concurrent tag edits do not lose each other.
func (s *Store) changeTags(ctx context.Context, id string,
	change func(Querier, []string) ([]string, error)) ([]string, error) {
	var out []string
	err := s.db.InTx(ctx, func(q Querier) error {
		var raw string
		err := q.QueryRow(ctx, `UPDATE episodes SET updated_at = updated_at WHERE id = ?
			RETURNING tags`, id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("episode %s: %w", id, memory.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("locking episode: %w", err)
		}
		var cur []string
		if err := json.Unmarshal([]byte(raw), &cur); err != nil {
			return fmt.Errorf("decoding tags of %s: %w", id, err)
		}
		if out, err = change(q, cur); err != nil {
			return err
		}
		enc, err := json.Marshal(nonNil(out))
		if err != nil {
			return fmt.Errorf("encoding tags: %w", err)
		}
		_, err = q.Exec(ctx, `UPDATE episodes SET tags = ?, updated_at = ? WHERE id = ?`,
			string(enc), store.UnixNano(now()), id)
		return err
	})
	return nonNil(out), err
}

// SearchByTags implements store.Store.
func (s *Store) SearchByTags(ctx context.Context, tags []string, matchAll bool,
	limit int) ([]memory.Summary, error) {
	need := 1
	if matchAll {
		need = len(tags)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(tags)), ", ")
	args := make([]any, 0, len(tags)+2)
	for _, t := range tags {
		args = append(args, t)
	}
	args = append(args, need, limit)
	cands, err := s.summaries(ctx, `SELECT `+SummaryColumns+`, 0 FROM episodes e
		WHERE e.id IN (SELECT episode_id FROM episode_tags WHERE tag IN (`+marks+`)
		GROUP BY episode_id HAVING COUNT(*) >= ?) ORDER BY e.created_at DESC LIMIT ?`, args...)
	out := make([]memory.Summary, len(cands))
	for i, c := range cands {
		out[i] = c.Summary
	}
	return out, err
}

// Search implements store.Store.
func (s *Store) Search(ctx context.Context, q store.Query) ([]memory.Candidate, error) {
	if len(q.Terms) > 0 {
		switch d := s.dialect.(type) {
		case IndexSearcher:
			return s.searchIndex(ctx, d, q)
		case SQLSearcher:
			query, args := d.SearchSQL(q)
			return s.summaries(ctx, query, args...)
		}
	}
	where, args := Filters(q)
	args = append(args, q.Limit)
	return s.summaries(ctx, `SELECT `+SummaryColumns+`, 0 FROM episodes e WHERE 1 = 1`+where+
		` ORDER BY e.created_at DESC LIMIT ?`, args...)
}

// filteredOverfetch is how many more index hits are fetched when filters
// will drop some of them after the index ranked them.
const filteredOverfetch = 4

// searchIndex ranks with the in-memory index and reads the hits' rows.
func (s *Store) searchIndex(ctx context.Context, d IndexSearcher, q store.Query) ([]memory.Candidate, error) {
	where, args := Filters(q)
	n := q.Limit
	if where != "" {
		n *= filteredOverfetch
	}
	hits := d.SearchIndex(q.Terms, n)
	if len(hits) == 0 {
		return []memory.Candidate{}, nil
	}
	score := make(map[int64]float64, len(hits))
	seqs := make([]any, 0, len(hits))
	for _, h := range hits {
		score[h.Seq] = h.Score
		seqs = append(seqs, h.Seq)
	}
	// The seq rides in the score column and is swapped for its score below.
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(seqs)), ", ")
	cands, err := s.summaries(ctx, `SELECT `+SummaryColumns+`, e.seq FROM episodes e
		WHERE e.seq IN (`+marks+`)`+where, append(seqs, args...)...)
	if err != nil {
		return nil, err
	}
	for i := range cands {
		cands[i].Lexical = score[int64(cands[i].Lexical)]
	}
	slices.SortFunc(cands, func(a, b memory.Candidate) int { return cmp.Compare(b.Lexical, a.Lexical) })
	return cands[:min(q.Limit, len(cands))], nil
}

// Filters renders the non-text conditions of q as " AND ..." clauses on
// the alias e.
func Filters(q store.Query) (string, []any) {
	var b strings.Builder
	var args []any
	if q.Domain != "" {
		b.WriteString(" AND e.domain = ?")
		args = append(args, q.Domain)
	}
	if q.TaskType != "" {
		b.WriteString(" AND e.task_type = ?")
		args = append(args, q.TaskType)
	}
	if q.CompletedOnly {
		b.WriteString(" AND e.completed_at IS NOT NULL")
	}
	return b.String(), args
}

func (s *Store) summaries(ctx context.Context, query string, args ...any) ([]memory.Candidate, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("searching episodes: %w", err)
	}
	defer rows.Close()
	out := []memory.Candidate{}
	for rows.Next() {
		var (
			c                memory.Candidate
			complexity, tags string
			reward           sql.NullFloat64
			created          int64
			vec              []byte
		)
		err := rows.Scan(&c.ID, &c.TaskDescription, &c.Domain, &c.TaskType, &c.Context.Language,
			&c.Context.Framework, &complexity, &tags, &c.Status, &reward, &c.StepCount,
			&created, &vec, &c.Lexical)
		if err != nil {
			return nil, fmt.Errorf("reading search result: %w", err)
		}
		if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
			return nil, fmt.Errorf("decoding tags of %s: %w", c.ID, err)
		}
		c.Context.Complexity, c.CreatedAt = memory.Complexity(complexity), store.FromUnixNano(created)
		if reward.Valid {
			c.RewardTotal = &reward.Float64
		}
		c.Embedding = decodeVector(vec)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetEmbedding implements store.Store.
func (s *Store) SetEmbedding(ctx context.Context, id string, vec []float32) error {
	n, err := s.db.Exec(ctx, `UPDATE episodes SET embedding = ? WHERE id = ?`, encodeVector(vec), id)
	if err != nil {
		return fmt.Errorf("storing embedding: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("episode %s: %w", id, memory.ErrNotFound)
	}
	return nil
}

// encodeVector stores float32s little-endian: compact, and identical in
// both engines' blob types.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func decodeVector(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
