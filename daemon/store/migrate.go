package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"
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

type migration struct {
	version int
	name    string
}

// parseMigrationName reads "0001_init.sql" as version 1. Versions must be
// positive; the name part is free text but must be present.
func parseMigrationName(name string) (int, error) {
	base, ok := strings.CutSuffix(name, ".sql")
	if !ok {
		return 0, fmt.Errorf("migration %q: name must end in .sql", name)
	}
	num, label, ok := strings.Cut(base, "_")
	if !ok || label == "" || num == "" {
		return 0, fmt.Errorf("migration %q: name must look like 0001_label.sql", name)
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("migration %q: version must be decimal digits", name)
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %q: version must be a positive number", name)
	}
	return v, nil
}

// listMigrations returns the migrations in fsys ordered by version and
// checks that they are numbered 1, 2, 3... without gaps or duplicates, so a
// mistake in a release is caught by its own tests rather than by users.
func listMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		v, err := parseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: expected version %d (versions must be 1, 2, 3... without gaps or duplicates)", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema to the newest version in fsys. The version lives
// in PRAGMA user_version and is bumped inside each migration's transaction,
// so a crash mid-way leaves either the old or the new schema, never a mix.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS, log *zap.Logger) error {
	ms, err := listMigrations(fsys)
	if err != nil {
		return err
	}
	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("schema version %d, newest known %d (upgrade chatd or restore a backup): %w",
			current, len(ms), ErrSchemaTooNew)
	}
	for _, m := range ms[current:] {
		if err := applyMigration(ctx, db, fsys, m); err != nil {
			return err
		}
		log.Info("applied store migration", zap.String("name", m.name), zap.Int("version", m.version))
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, fsys fs.FS, m migration) error {
	body, err := fs.ReadFile(fsys, m.name)
	if err != nil {
		return fmt.Errorf("read migration %q: %w", m.name, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply migration %q: %w", m.name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("apply migration %q: %w", m.name, err)
	}
	// PRAGMA takes no bound parameters; the version is an int we produced.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return fmt.Errorf("apply migration %q: set version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply migration %q: commit: %w", m.name, err)
	}
	return nil
}
