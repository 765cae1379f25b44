// Package sqlstore implements store.Store once for every SQL engine.
//
// SQLite (through database/sql) and PostgreSQL (through a pgx pool) share
// the queries here; a Dialect supplies what differs: full-text indexing,
// migration locking and placeholders.
package sqlstore

import (
	"context"
	"database/sql"
)

// Querier runs statements written with '?' placeholders.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is the subset of result-set methods both drivers offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result; Scan returns an error wrapping
// sql.ErrNoRows when there is none.
type Row interface {
	Scan(dest ...any) error
}

// DB is a connection pool that can run a function in a transaction.
type DB interface {
	Querier
	// InTx runs fn in a transaction, committing when it returns nil.
	InTx(ctx context.Context, fn func(Querier) error) error
	Ping(ctx context.Context) error
	Close() error
}

// SQLDB adapts a database/sql pool.
type SQLDB struct{ DB *sql.DB }

type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type sqlAdapter struct{ q sqlQuerier }

func (a sqlAdapter) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := a.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (a sqlAdapter) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := a.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (a sqlAdapter) QueryRow(ctx context.Context, query string, args ...any) Row {
	return a.q.QueryRowContext(ctx, query, args...)
}

// sqlRows drops the error of Close: database/sql reports the same error
// from Err, which every caller checks.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// Exec implements Querier.
func (d SQLDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqlAdapter{d.DB}.Exec(ctx, query, args...)
}

// Query implements Querier.
func (d SQLDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return sqlAdapter{d.DB}.Query(ctx, query, args...)
}

// QueryRow implements Querier.
func (d SQLDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqlAdapter{d.DB}.QueryRow(ctx, query, args...)
}

// InTx implements DB.
func (d SQLDB) InTx(ctx context.Context, fn func(Querier) error) error {
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlAdapter{tx}); err != nil {
		// The rollback error adds nothing: the transaction is abandoned
		// either way and fn's error says why.
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Ping implements DB.
func (d SQLDB) Ping(ctx context.Context) error { return d.DB.PingContext(ctx) }

// Close implements DB.
func (d SQLDB) Close() error { return d.DB.Close() }
