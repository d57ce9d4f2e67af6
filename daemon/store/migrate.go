package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/migrate"
)

//go:embed migrations/*.sql
var embeddedMigrations embed.FS

// migrationFS holds the numbered migration files at its root.
var migrationFS = mustSub(embeddedMigrations, "migrations")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// migrateSchema brings the schema to the newest version in fsys with the
// project's migration runner. The version lives in PRAGMA user_version and
// is bumped inside each migration's transaction, so a crash mid-way leaves
// either the old or the new schema, never a mix.
func migrateSchema(ctx context.Context, db *sql.DB, fsys fs.FS, log *zap.Logger) error {
	ms, err := migrate.Load(fsys, ".")
	if err != nil {
		return err
	}
	err = migrate.Run(ctx, userVersionDB{db}, ms, log)
	if errors.Is(err, migrate.ErrTooNew) {
		return fmt.Errorf("%w (upgrade chatd or restore a backup): %w", ErrSchemaTooNew, err)
	}
	return err
}

// userVersionDB keeps the applied version in PRAGMA user_version.
type userVersionDB struct{ db *sql.DB }

func (u userVersionDB) Newest(ctx context.Context) (int, error) {
	var v int
	err := u.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func (u userVersionDB) Begin(ctx context.Context) (migrate.Tx, error) {
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return userVersionTx{tx}, nil
}

type userVersionTx struct{ tx *sql.Tx }

func (t userVersionTx) Applied(ctx context.Context, version int) (bool, error) {
	var cur int
	if err := t.tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	return cur >= version, nil
}

func (t userVersionTx) Exec(ctx context.Context, query string) error {
	_, err := t.tx.ExecContext(ctx, query)
	return err
}

func (t userVersionTx) MarkApplied(ctx context.Context, m migrate.Migration) error {
	// PRAGMA takes no bound parameters; the version is an int we parsed.
	if _, err := t.tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	return nil
}

func (t userVersionTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t userVersionTx) Rollback(context.Context) error { return t.tx.Rollback() }
