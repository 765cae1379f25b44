package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// Patterns implements store.Store.
func (s *Store) Patterns(ctx context.Context, f store.PatternFilter) ([]memory.Pattern, error) {
	var b strings.Builder
	args := []any{}
	if f.Kind != "" {
		b.WriteString(" AND kind = ?")
		args = append(args, string(f.Kind))
	}
	if f.Domain != "" {
		b.WriteString(" AND domain = ?")
		args = append(args, f.Domain)
	}
	if f.KeyContains != "" {
		b.WriteString(` AND (LOWER(key) LIKE ? ESCAPE '\' OR LOWER(description) LIKE ? ESCAPE '\')`)
		like := "%" + likeEscaper.Replace(strings.ToLower(f.KeyContains)) + "%"
		args = append(args, like, like)
	}
	args = append(args, f.MinOccurrences, f.Limit)
	rows, err := s.db.Query(ctx, `SELECT kind, domain, key, description, occurrences, successes,
		last_seen FROM patterns WHERE 1 = 1`+b.String()+` AND occurrences >= ?
		ORDER BY occurrences DESC, successes DESC, kind, key LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing patterns: %w", err)
	}
	out, err := scanPatterns(rows)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Evidence, err = s.evidence(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// likeEscaper makes LIKE match its pattern's wildcards literally, so a
// search for a tool name such as read_file contains what it says.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func scanPatterns(rows Rows) ([]memory.Pattern, error) {
	defer rows.Close()
	out := []memory.Pattern{}
	for rows.Next() {
		var (
			p        memory.Pattern
			kind     string
			lastSeen int64
		)
		err := rows.Scan(&kind, &p.Domain, &p.Key, &p.Description, &p.Occurrences,
			&p.Successes, &lastSeen)
		if err != nil {
			return nil, fmt.Errorf("reading pattern: %w", err)
		}
		p.Kind, p.LastSeen = memory.PatternKind(kind), store.FromUnixNano(lastSeen)
		if p.Occurrences > 0 {
			p.SuccessRate = float64(p.Successes) / float64(p.Occurrences)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Store) evidence(ctx context.Context, p *memory.Pattern) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT episode_id FROM pattern_evidence
		WHERE kind = ? AND domain = ? AND key = ? ORDER BY at DESC LIMIT ?`,
		string(p.Kind), p.Domain, p.Key, store.MaxEvidence)
	if err != nil {
		return nil, fmt.Errorf("reading pattern evidence: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("reading pattern evidence: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	err := s.db.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM episodes),
		(SELECT COUNT(*) FROM episodes WHERE completed_at IS NOT NULL),
		(SELECT COALESCE(SUM(step_count), 0) FROM episodes),
		(SELECT COUNT(*) FROM patterns)`).Scan(
		&st.Episodes, &st.CompletedEpisodes, &st.Steps, &st.Patterns)
	if err != nil {
		return st, fmt.Errorf("counting: %w", err)
	}
	return st, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }
