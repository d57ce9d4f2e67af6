package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/p2pchat/p2pchat/internal/migrate"
)

// migrator runs migrations on the writer pool. Its transactions are BEGIN
// IMMEDIATE (the writer DSN sets _txlock), which takes SQLite's write lock
// up front: two processes opening a fresh file at once take turns.
type migrator struct{ db *sql.DB }

func (m migrator) Newest(ctx context.Context) (int, error) {
	var tables int
	err := m.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&tables)
	if err != nil || tables == 0 {
		return 0, err
	}
	var v int
	err = m.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (m migrator) Begin(ctx context.Context) (migrate.Tx, error) {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	_, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
	)`)
	if err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	return migrationTx{tx}, nil
}

type migrationTx struct{ tx *sql.Tx }

func (t migrationTx) Applied(ctx context.Context, version int) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read schema_migrations: %w", err)
	}
	return n > 0, nil
}

func (t migrationTx) Exec(ctx context.Context, query string) error {
	_, err := t.tx.ExecContext(ctx, query)
	return err
}

func (t migrationTx) MarkApplied(ctx context.Context, m migrate.Migration) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name)
	if err != nil {
		return fmt.Errorf("record migration: %w", err)
	}
	return nil
}

func (t migrationTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t migrationTx) Rollback(context.Context) error { return t.tx.Rollback() }
