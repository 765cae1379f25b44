// Package postgres stores episodic memory in PostgreSQL through a pgx
// pool, so several server replicas can share one memory.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memorymcp/memory-mcp-operator/internal/store"
	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tune Open.
type Options struct {
	// Schema, when set, is created if missing and used as the search path;
	// tests use it to keep runs apart.
	Schema string
}

// Open connects to url, applies migrations and returns the store.
func Open(ctx context.Context, url string, opts Options) (*sqlstore.Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL may hold a password, so only the parse error's kind is kept.
		return nil, errors.New("parsing postgres url: invalid connection string")
	}
	if opts.Schema != "" {
		if err := createSchema(ctx, cfg.ConnConfig, opts.Schema); err != nil {
			return nil, err
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	s := sqlstore.New(&poolDB{pool: pool}, dialect{})
	migrations, err := store.LoadMigrations(migrationFiles, "migrations")
	if err == nil {
		err = s.Migrate(ctx, migrations)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("preparing postgres: %w", err)
	}
	return s, nil
}

func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("connecting to postgres: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	if err != nil {
		return fmt.Errorf("creating schema %s: %w", schema, err)
	}
	return nil
}

// DropSchema removes a schema and everything in it; tests call it to
// clean up after themselves.
func DropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connecting to postgres: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

type dialect struct{}

func (dialect) Name() string { return "postgres" }

// migrationLockKey is an arbitrary constant naming this server's
// migration lock among other advisory locks in the database.
const migrationLockKey = 0x6d656d6f7279

// LockMigrations holds a transaction-scoped advisory lock, so replicas
// starting together apply each migration once.
func (dialect) LockMigrations(ctx context.Context, q sqlstore.Querier) error {
	_, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(migrationLockKey))
	return err
}

func (dialect) IndexEpisode(ctx context.Context, q sqlstore.Querier, seq int64, text string) error {
	_, err := q.Exec(ctx, `UPDATE episodes SET search_text = ? WHERE seq = ?`, text, seq)
	return err
}

// maxSearchText is the length past which steps no longer add to an
// episode's search text. Every append rewrites the row and recomputes its
// tsvector from the whole text, so an unbounded text would make each step
// of a long episode slower than the one before.
//
// Limitation: steps logged after the text reached this length are not
// found by full-text search in PostgreSQL (SQLite indexes every step); a
// table of step texts with its own index would lift this.
const maxSearchText = 32 << 10

func (dialect) AppendIndex(ctx context.Context, q sqlstore.Querier, seq int64, text string) error {
	_, err := q.Exec(ctx, `UPDATE episodes SET search_text = search_text || ' ' || ?
		WHERE seq = ? AND length(search_text) < ?`, text, seq, maxSearchText)
	return err
}

// UnindexEpisode has nothing to do: the index lives in the deleted row.
func (dialect) UnindexEpisode(context.Context, sqlstore.Querier, int64) error { return nil }

// SearchSQL ranks with ts_rank_cd over an OR of the terms. Terms hold only
// letters and digits, so they are safe inside to_tsquery.
//
// Limitation: ts_rank_cd is a cover-density score, not BM25, so SQLite and
// PostgreSQL order close lexical matches slightly differently; context,
// recency and reward are applied identically afterwards.
func (dialect) SearchSQL(q store.Query) (string, []any) {
	where, args := sqlstore.Filters(q)
	tsq := strings.Join(q.Terms, " | ")
	args = append([]any{tsq, tsq}, args...)
	args = append(args, q.Limit)
	return `SELECT ` + sqlstore.SummaryColumns + `,
		ts_rank_cd(e.search_tsv, to_tsquery('english', ?)) AS lex
		FROM episodes e WHERE e.search_tsv @@ to_tsquery('english', ?)` + where +
		` ORDER BY lex DESC LIMIT ?`, args
}

// poolDB adapts a pgx pool to sqlstore.DB, rewriting '?' placeholders.
type poolDB struct {
	pool *pgxpool.Pool
}

var rewrites sync.Map

// rebind turns '?' placeholders into $1, $2, …; the queries of sqlstore
// hold no '?' inside literals.
func rebind(q string) string {
	if v, ok := rewrites.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	rewrites.Store(q, b.String())
	return b.String()
}
