// Package migrate applies numbered SQL schema migrations, for every SQL
// store in the project (the tracker's SQLite and PostgreSQL stores, chatd's
// message store).
//
// Migrations are files named NNNN_description.sql (for example
// 0001_init.sql) in an embedded directory. Load reads and orders them; Run
// applies the ones a database has not seen yet, each in its own
// transaction, and records it. A backend supplies the dialect-specific part
// as a DB: how to begin a transaction that excludes other migrators (SQLite:
// BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock) and how to read and
// write the record of applied versions.
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	ms, err := migrate.Load(migrations, "migrations")
//	...
//	err = migrate.Run(ctx, backend, ms, log)
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string // file name, for logs and the applied-versions table
	SQL     string
}

// DB is a database that migrations can run against.
type DB interface {
	// Newest is the newest applied version (0 for a fresh database), read
	// before anything is applied: Run refuses a schema newer than it knows,
	// so an older program never writes to a newer database.
	Newest(ctx context.Context) (int, error)
	// Begin starts a transaction holding a lock that excludes other
	// migrators (other processes opening the same database), with the
	// applied-versions table created if missing.
	Begin(ctx context.Context) (Tx, error)
}

// Tx is one migration transaction.
type Tx interface {
	// Applied reports whether version has already been applied.
	Applied(ctx context.Context, version int) (bool, error)
	// Exec runs one migration's SQL (possibly several statements).
	Exec(ctx context.Context, sql string) error
	// MarkApplied records m as applied.
	MarkApplied(ctx context.Context, m Migration) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// ErrBadName is returned by Load for a .sql file that is not NNNN_name.sql.
var ErrBadName = errors.New("migration file name must be NNNN_description.sql")

// ErrTooNew is returned by Run when the database has a newer schema than
// the migrations it was given: an older program must not write to it.
var ErrTooNew = errors.New("database schema is newer than this program knows")

// Load reads dir in fsys and returns its migrations in version order. It
// refuses duplicate versions and gaps, both of which mean a merge mistake.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m, err := loadOne(fsys, dir, e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("load migrations: %s: want version %d (versions start at 1, no gaps or duplicates)", m.Name, i+1)
		}
	}
	return ms, nil
}

// ParseName reads "0001_init.sql" as version 1: decimal digits, an
// underscore, a non-empty label, ".sql".
func ParseName(name string) (int, error) {
	base, ok := strings.CutSuffix(name, ".sql")
	num, label, ok2 := strings.Cut(base, "_")
	if !ok || !ok2 || label == "" || num == "" || strings.Trim(num, "0123456789") != "" {
		return 0, fmt.Errorf("migration %q: %w", name, ErrBadName)
	}
	v, err := strconv.Atoi(num)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %q: version must be a positive number: %w", name, ErrBadName)
	}
	return v, nil
}

func loadOne(fsys fs.FS, dir, name string) (Migration, error) {
	v, err := ParseName(name)
	if err != nil {
		return Migration{}, fmt.Errorf("load: %w", err)
	}
	b, err := fs.ReadFile(fsys, path.Join(dir, name))
	if err != nil {
		return Migration{}, fmt.Errorf("load migration %q: %w", name, err)
	}
	return Migration{Version: v, Name: name, SQL: string(b)}, nil
}

// Run applies, in order, each migration that db has not applied yet. It is
// safe when several processes run it at once: each step re-checks under
// the lock that Begin takes.
func Run(ctx context.Context, db DB, ms []Migration, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	newest, err := db.Newest(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if newest > len(ms) {
		return fmt.Errorf("schema version %d, newest known %d: %w", newest, len(ms), ErrTooNew)
	}
	for _, m := range ms {
		applied, err := apply(ctx, db, m)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if applied {
			log.Info("applied schema migration", zap.Int("version", m.Version), zap.String("name", m.Name))
		}
	}
	return nil
}

func apply(ctx context.Context, db DB, m Migration) (applied bool, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			// The transaction failed; its own error is the one worth reporting.
			_ = tx.Rollback(ctx)
		}
	}()
	done, err := tx.Applied(ctx, m.Version)
	if err != nil {
		return false, err
	}
	if done {
		return false, tx.Rollback(ctx)
	}
	if err = tx.Exec(ctx, m.SQL); err != nil {
		return false, err
	}
	if err = tx.MarkApplied(ctx, m); err != nil {
		return false, err
	}
	if err = tx.Commit(ctx); err != nil {
		return false, err
	}
	return true, nil
}
