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

	"github.com/memorymcp/memory-mcp-operator/internal/bm25"
	"github.com/memorymcp/memory-mcp-operator/internal/memory"
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
	index := bm25.New()
	s := sqlstore.New(sqlstore.SQLDB{DB: db}, dialect{index: index})
	migrations, err := store.LoadMigrations(migrationFiles, "migrations")
	if err == nil {
		err = s.Migrate(ctx, migrations)
	}
	if err == nil {
		err = buildIndex(ctx, db, index)
	}
	if err != nil {
		return nil, fmt.Errorf("preparing sqlite %s: %w", path, errJoinClose(err, db))
	}
	return s, nil
}

func errJoinClose(err error, db *sql.DB) error {
	if cerr := db.Close(); cerr != nil {
		return errors.Join(err, fmt.Errorf("closing: %w", cerr))
	}
	return err
}

// dialect keeps the full-text index in memory, next to the database it
// mirrors; see package bm25 for why.
type dialect struct{ index *bm25.Index }

func (dialect) Name() string { return "sqlite" }

// LockMigrations is a no-op: immediate transactions already hold the
// database's single write lock.
func (dialect) LockMigrations(context.Context, sqlstore.Querier) error { return nil }

// IndexEpisode and AppendIndex update the index inside the write
// transaction, so a reader never misses a committed step. A transaction
// that then rolls back leaves a posting for a row that does not exist,
// which searches skip when they read rows. SQLite may give that row's seq
// (or a deleted newest row's) to the next insert, so IndexEpisode clears
// whatever the index still holds under seq before adding the new text.
func (d dialect) IndexEpisode(_ context.Context, _ sqlstore.Querier, seq int64, text string) error {
	d.index.Remove(uint32(seq))
	d.index.Add(uint32(seq), text)
	return nil
}

func (d dialect) AppendIndex(_ context.Context, _ sqlstore.Querier, seq int64, text string) error {
	d.index.Add(uint32(seq), text)
	return nil
}

func (d dialect) UnindexEpisode(_ context.Context, _ sqlstore.Querier, seq int64) error {
	d.index.Remove(uint32(seq))
	return nil
}

func (d dialect) SearchIndex(terms []string, limit int) []sqlstore.Hit {
	hits := d.index.Search(strings.Join(terms, " "), limit)
	out := make([]sqlstore.Hit, len(hits))
	for i, h := range hits {
		out[i] = sqlstore.Hit{Seq: int64(h.Doc), Score: h.Score}
	}
	return out
}

// buildIndex loads every episode's searchable text into the index.
func buildIndex(ctx context.Context, db *sql.DB, ix *bm25.Index) error {
	rows, err := db.QueryContext(ctx, `SELECT seq, task_description, domain, task_type,
		language, framework FROM episodes`)
	if err != nil {
		return fmt.Errorf("reading episodes: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var seq int64
		var e memory.Episode
		if err := rows.Scan(&seq, &e.TaskDescription, &e.Domain, &e.TaskType,
			&e.Context.Language, &e.Context.Framework); err != nil {
			return fmt.Errorf("reading episode: %w", err)
		}
		ix.Add(uint32(seq), memory.SearchText(&e))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading episodes: %w", err)
	}
	return indexSteps(ctx, db, ix)
}

func indexSteps(ctx context.Context, db *sql.DB, ix *bm25.Index) error {
	rows, err := db.QueryContext(ctx, `SELECT e.seq, s.tool, s.action, s.error
		FROM steps s JOIN episodes e ON e.id = s.episode_id`)
	if err != nil {
		return fmt.Errorf("reading steps: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var seq int64
		var s memory.Step
		if err := rows.Scan(&seq, &s.Tool, &s.Action, &s.Result.Error); err != nil {
			return fmt.Errorf("reading step: %w", err)
		}
		ix.Add(uint32(seq), memory.StepSearchText(&s))
	}
	return rows.Err()
}
