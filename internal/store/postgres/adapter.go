package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlstore"
)

type conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type querier struct{ c conn }

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, rebind(sql), args...)
	return tag.RowsAffected(), err
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return q.c.Query(ctx, rebind(sql), args...)
}

func (q querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return q.c.QueryRow(ctx, rebind(sql), args...)
}

func (d *poolDB) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return querier{d.pool}.Exec(ctx, sql, args...)
}

func (d *poolDB) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return querier{d.pool}.Query(ctx, sql, args...)
}

func (d *poolDB) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return querier{d.pool}.QueryRow(ctx, sql, args...)
}

// InTx runs fn in a read-committed transaction; the row locks taken by
// sqlstore's updates give it the ordering it needs.
func (d *poolDB) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(querier{tx}) })
}

func (d *poolDB) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

func (d *poolDB) Close() error {
	d.pool.Close()
	return nil
}
