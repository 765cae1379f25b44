// Package sqlite stores episodic memory in an embedded SQLite database.
//
// # Notes
//
// The database runs in WAL mode with synchronous=FULL: a step the server
// acknowledged has reached the disk, so it survives a crash of the process
// or the machine. NORMAL would only lose durability on power loss, but a
// memory server on a PVC cannot tell those apart, so we pay for FULL.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/memorymcp/memory-mcp-operator/internal/store"
	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlstore"

	// The pure-Go driver keeps the server binary free of cgo.
	_ "modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// maxConns bounds the pool: readers run in parallel under WAL, writers
// queue on the database lock (busy_timeout) rather than failing.
const maxConns = 8

// Options tune OpenWithOptions.
type Options struct {
	// UnsafeNoSync turns fsync off (synchronous=OFF). Only for bulk loads
	// and benchmarks whose data can be rebuilt: a crash may lose or
	// corrupt acknowledged writes.
	UnsafeNoSync bool
}

// Open opens or creates the database at path and applies migrations.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	return OpenWithOptions(ctx, path, Options{})
}

// OpenWithOptions is Open with options.
func OpenWithOptions(ctx context.Context, path string, opts Options) (*sqlstore.Store, error) {
	sync := "synchronous(FULL)"
	if opts.UnsafeNoSync {
		sync = "synchronous(OFF)"
	}
	params := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", sync,
		"busy_timeout(10000)", "foreign_keys(ON)"} {
		params.Add("_pragma", p)
	}
	// Immediate transactions take the write lock up front, so two writers
	// wait for each other instead of failing with SQLITE_BUSY on upgrade.
	params.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s := sqlstore.New(sqlstore.SQLDB{DB: db}, dialect{})
	migrations, err := store.LoadMigrations(migrationFiles, "migrations")
	if err == nil {
		err = s.Migrate(ctx, migrations)
	}
	if err != nil {
		return nil, fmt.Errorf("preparing sqlite %s: %w", path, errJoinClose(err, db))
	}
	return s, nil
}

func errJoinClose(err error, db *sql.DB) error {
	if cerr := db.Close(); cerr != nil {
		return fmt.Errorf("%w (closing: %v)", err, cerr)
	}
	return err
}

type dialect struct{}

func (dialect) Name() string { return "sqlite" }

// LockMigrations is a no-op: immediate transactions already hold the
// database's single write lock.
func (dialect) LockMigrations(context.Context, sqlstore.Querier) error { return nil }

func (dialect) IndexEpisode(ctx context.Context, q sqlstore.Querier, seq int64, text string) error {
	_, err := q.Exec(ctx, `INSERT INTO episode_fts (rowid, body) VALUES (?, ?)`, seq, text)
	return err
}

func (dialect) AppendIndex(ctx context.Context, q sqlstore.Querier, seq int64, text string) error {
	_, err := q.Exec(ctx, `UPDATE episode_fts SET body = body || ' ' || ? WHERE rowid = ?`, text, seq)
	return err
}

func (dialect) UnindexEpisode(ctx context.Context, q sqlstore.Querier, seq int64) error {
	_, err := q.Exec(ctx, `DELETE FROM episode_fts WHERE rowid = ?`, seq)
	return err
}

// SearchSQL ranks with FTS5's bm25(), which is lower-is-better, hence the
// negation. Terms hold only letters and digits, so quoting each one is
// enough to keep FTS5 query syntax out.
//
// Without filters, the ranking runs on the index alone and only the top
// rows are joined to episodes; with filters, every match is joined first
// so the limit applies after filtering.
func (dialect) SearchSQL(q store.Query) (string, []any) {
	quoted := make([]string, len(q.Terms))
	for i, t := range q.Terms {
		quoted[i] = `"` + t + `"`
	}
	match := strings.Join(quoted, " OR ")
	where, args := sqlstore.Filters(q)
	if where == "" {
		return `SELECT ` + sqlstore.SummaryColumns + `, f.lex FROM (
			SELECT rowid, -bm25(episode_fts) AS lex FROM episode_fts
			WHERE episode_fts MATCH ? ORDER BY rank LIMIT ?) f
			JOIN episodes e ON e.seq = f.rowid ORDER BY f.lex DESC`, []any{match, q.Limit}
	}
	args = append([]any{match}, args...)
	args = append(args, q.Limit)
	return `SELECT ` + sqlstore.SummaryColumns + `, -bm25(episode_fts) FROM episode_fts
		JOIN episodes e ON e.seq = episode_fts.rowid
		WHERE episode_fts MATCH ?` + where + ` ORDER BY bm25(episode_fts) LIMIT ?`, args
}

// commonTermShare is the share of episodes above which a term is dropped
// from a query that has rarer terms. Such a term adds little to BM25 (its
// inverse document frequency is low) but makes FTS5 score most of the
// index, which is what dominates query latency on large stores.
const commonTermShare = 0.2

// pruneMinEpisodes is the store size below which every term is kept:
// smaller indexes are fast to score in full, and exact BM25 is preferable.
const pruneMinEpisodes = 10_000

// PruneTerms drops common terms as described by commonTermShare, keeping
// at least the rarest term. Terms the index does not hold as-is (stemmed
// differently) count as rare and are kept.
func (dialect) PruneTerms(ctx context.Context, q sqlstore.Querier, terms []string) ([]string, error) {
	var total sql.NullInt64
	if err := q.QueryRow(ctx, `SELECT MAX(seq) FROM episodes`).Scan(&total); err != nil {
		return nil, err
	}
	if !total.Valid || total.Int64 < pruneMinEpisodes {
		return terms, nil
	}
	docs, err := termDocs(ctx, q, terms)
	if err != nil {
		return nil, err
	}
	limit := int64(commonTermShare * float64(total.Int64))
	var kept []string
	rarest := terms[0]
	for _, t := range terms {
		if docs[t] <= limit {
			kept = append(kept, t)
		}
		if docs[t] < docs[rarest] {
			rarest = t
		}
	}
	if len(kept) == 0 {
		kept = []string{rarest}
	}
	return kept, nil
}

func termDocs(ctx context.Context, q sqlstore.Querier, terms []string) (map[string]int64, error) {
	docs := make(map[string]int64, len(terms))
	for _, t := range terms {
		var n int64
		err := q.QueryRow(ctx, `SELECT doc FROM episode_fts_terms WHERE term = ?`, t).Scan(&n)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		docs[t] = n
	}
	return docs, nil
}
