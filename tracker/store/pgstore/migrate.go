package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/p2pchat/p2pchat/internal/migrate"
)

// migrationLock is the pg_advisory_xact_lock key that serializes schema
// migrations of all tracker processes on a database. Any fixed number
// works; this one spells "p2pchat1" in ASCII.
const migrationLock int64 = 0x7032706368617431

type migrator struct{ pool *pgxpool.Pool }

func (m migrator) Newest(ctx context.Context) (int, error) {
	var exists bool
	if err := m.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := m.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (m migrator) Begin(ctx context.Context) (migrate.Tx, error) {
	tx, err := m.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	// Taken before the CREATE TABLE below: two sessions creating the same
	// table at once can fail on a catalog unique index even with IF NOT EXISTS.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	_, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		name       TEXT        NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	return migrationTx{tx}, nil
}

type migrationTx struct{ tx pgx.Tx }

func (t migrationTx) Applied(ctx context.Context, version int) (bool, error) {
	var done bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done)
	if err != nil {
		return false, fmt.Errorf("read schema_migrations: %w", err)
	}
	return done, nil
}

// Exec runs the migration with the simple protocol, which allows several
// statements in one string.
func (t migrationTx) Exec(ctx context.Context, query string) error {
	_, err := t.tx.Exec(ctx, query, pgx.QueryExecModeSimpleProtocol)
	return err
}

func (t migrationTx) MarkApplied(ctx context.Context, m migrate.Migration) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	if err != nil {
		return fmt.Errorf("record migration: %w", err)
	}
	return nil
}

func (t migrationTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t migrationTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }
