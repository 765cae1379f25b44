package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// Migrate applies the migrations not yet recorded in schema_migrations,
// each in its own transaction together with its record.
func (s *Store) Migrate(ctx context.Context, migrations []store.Migration) error {
	// Note: even CREATE TABLE IF NOT EXISTS fails in PostgreSQL when two
	// sessions run it at once, so replicas starting together take the
	// migration lock for it too.
	err := s.db.InTx(ctx, func(q Querier) error {
		if err := s.dialect.LockMigrations(ctx, q); err != nil {
			return fmt.Errorf("locking: %w", err)
		}
		_, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if err := s.db.InTx(ctx, func(q Querier) error { return s.apply(ctx, q, m) }); err != nil {
			return fmt.Errorf("%s migration %s: %w", s.dialect.Name(), m.Name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, q Querier, m store.Migration) error {
	if err := s.dialect.LockMigrations(ctx, q); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	var v int64
	err := q.QueryRow(ctx, `SELECT version FROM schema_migrations WHERE version = ?`,
		m.Version).Scan(&v)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("reading schema_migrations: %w", err)
	}
	if _, err := q.Exec(ctx, m.SQL); err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES (?, ?, ?)`, m.Version, m.Name, store.UnixNano(now()))
	return err
}

// SchemaVersion returns the highest applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return v.Int64, err
}
