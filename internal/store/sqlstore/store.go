package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// Store implements store.Store over a DB and a Dialect.
type Store struct {
	db      DB
	dialect Dialect
}

var _ store.Store = (*Store)(nil)

// New returns a store over db. Call Migrate before first use.
func New(db DB, d Dialect) *Store { return &Store{db: db, dialect: d} }

// SummaryColumns are the episode columns a memory.Summary is scanned from,
// qualified with the alias e.
const SummaryColumns = `e.id, e.task_description, e.domain, e.task_type, e.language,
	e.framework, e.complexity, e.tags, e.status, e.reward_total, e.step_count,
	e.created_at, e.embedding`

// CreateEpisode implements store.Store.
func (s *Store) CreateEpisode(ctx context.Context, e *memory.Episode) error {
	tags, err := json.Marshal(nonNil(e.Tags))
	if err != nil {
		return fmt.Errorf("encoding tags: %w", err)
	}
	return s.db.InTx(ctx, func(q Querier) error {
		var seq int64
		err := q.QueryRow(ctx, `INSERT INTO episodes (id, task_description, domain, task_type,
			language, framework, complexity, tags, status, step_count, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING seq`,
			e.ID, e.TaskDescription, e.Domain, e.TaskType, e.Context.Language,
			e.Context.Framework, string(e.Context.Complexity), string(tags), memory.StatusOpen,
			store.UnixNano(e.CreatedAt), store.UnixNano(e.UpdatedAt)).Scan(&seq)
		if err != nil {
			return fmt.Errorf("inserting episode: %w", err)
		}
		if err := insertTags(ctx, q, e.ID, e.Tags); err != nil {
			return err
		}
		if err := s.dialect.IndexEpisode(ctx, q, seq, memory.SearchText(e)); err != nil {
			return fmt.Errorf("indexing episode: %w", err)
		}
		return nil
	})
}

func insertTags(ctx context.Context, q Querier, id string, tags []string) error {
	for _, t := range tags {
		_, err := q.Exec(ctx, `INSERT INTO episode_tags (tag, episode_id) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, t, id)
		if err != nil {
			return fmt.Errorf("inserting tag: %w", err)
		}
	}
	return nil
}

// AppendStep implements store.Store.
//
// Note: the step counter update both numbers the step and locks the
// episode row, so concurrent appends to one episode get distinct numbers
// and none lands after completion.
func (s *Store) AppendStep(ctx context.Context, id string, st memory.Step) (memory.Step, error) {
	err := s.db.InTx(ctx, func(q Querier) error {
		var seq int64
		err := q.QueryRow(ctx, `UPDATE episodes SET step_count = step_count + 1, updated_at = ?
			WHERE id = ? AND completed_at IS NULL AND step_count < ? RETURNING seq, step_count`,
			store.UnixNano(st.At), id, memory.MaxStepsPerEpisode).Scan(&seq, &st.Seq)
		if errors.Is(err, sql.ErrNoRows) {
			return s.whyNotOpen(ctx, q, id)
		}
		if err != nil {
			return fmt.Errorf("numbering step: %w", err)
		}
		_, err = q.Exec(ctx, `INSERT INTO steps (episode_id, seq, tool, action, parameters,
			status, output, error, latency_ms, tokens, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, st.Seq, st.Tool, st.Action, string(st.Parameters), string(st.Result.Status),
			st.Result.Output, st.Result.Error, st.LatencyMS, st.Tokens, store.UnixNano(st.At))
		if err != nil {
			return fmt.Errorf("inserting step: %w", err)
		}
		if err := s.dialect.AppendIndex(ctx, q, seq, memory.StepSearchText(&st)); err != nil {
			return fmt.Errorf("indexing step: %w", err)
		}
		return nil
	})
	return st, err
}

// whyNotOpen tells a missing episode from a completed or a full one.
func (s *Store) whyNotOpen(ctx context.Context, q Querier, id string) error {
	var completed sql.NullInt64
	var steps int
	err := q.QueryRow(ctx, `SELECT completed_at, step_count FROM episodes WHERE id = ?`,
		id).Scan(&completed, &steps)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("episode %s: %w", id, memory.ErrNotFound)
	case err != nil:
		return fmt.Errorf("reading episode: %w", err)
	case completed.Valid:
		return fmt.Errorf("episode %s: %w", id, memory.ErrAlreadyCompleted)
	case steps >= memory.MaxStepsPerEpisode:
		return &memory.ValidationError{Field: "episode_id", Reason: fmt.Sprintf(
			"episode %s holds %d steps, the most one episode may; complete it and record "+
				"further work in a new episode", id, steps)}
	}
	return fmt.Errorf("episode %s changed during the update; retry", id)
}

// CompleteEpisode implements store.Store.
func (s *Store) CompleteEpisode(ctx context.Context, id string, c memory.Completion,
	obs []memory.Observation) error {
	outcome, reward, reflection, err := encodeCompletion(c)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE episodes SET status = ?, outcome = ?, reward = ?,
			reward_total = ?, reflection = ?, completed_at = ?, updated_at = ?
			WHERE id = ? AND completed_at IS NULL`,
			string(c.Outcome.Status), outcome, reward, c.Reward.Total, reflection,
			store.UnixNano(c.At), store.UnixNano(c.At), id)
		if err != nil {
			return fmt.Errorf("completing episode: %w", err)
		}
		if n == 0 {
			return s.whyNotOpen(ctx, q, id)
		}
		return mergePatterns(ctx, q, obs)
	})
}

func encodeCompletion(c memory.Completion) (outcome, reward, reflection string, err error) {
	var b [3][]byte
	for i, v := range []any{c.Outcome, c.Reward, c.Reflection} {
		if b[i], err = json.Marshal(v); err != nil {
			return "", "", "", fmt.Errorf("encoding completion: %w", err)
		}
	}
	return string(b[0]), string(b[1]), string(b[2]), nil
}

func mergePatterns(ctx context.Context, q Querier, obs []memory.Observation) error {
	for _, o := range obs {
		_, err := q.Exec(ctx, `INSERT INTO patterns (kind, domain, key, description,
			occurrences, successes, last_seen) VALUES (?, ?, ?, ?, 1, ?, ?)
			ON CONFLICT (kind, domain, key) DO UPDATE SET
			occurrences = patterns.occurrences + 1,
			successes = patterns.successes + excluded.successes,
			last_seen = excluded.last_seen`,
			string(o.Kind), o.Domain, o.Key, o.Description, boolInt(o.Success), store.UnixNano(o.At))
		if err != nil {
			return fmt.Errorf("merging pattern: %w", err)
		}
		_, err = q.Exec(ctx, `INSERT INTO pattern_evidence (kind, domain, key, episode_id, at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			string(o.Kind), o.Domain, o.Key, o.EpisodeID, store.UnixNano(o.At))
		if err != nil {
			return fmt.Errorf("recording pattern evidence: %w", err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// now is the store's clock for timestamps it sets itself.
func now() time.Time { return time.Now().UTC() }
