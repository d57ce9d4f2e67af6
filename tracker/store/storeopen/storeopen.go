// Package storeopen opens the tracker's store named by one configuration
// string, so that cmd/chat-tracker and tools need not know the backends.
//
//	st, err := storeopen.Open(ctx, cfg.Database, log)
//
// A postgres:// or postgresql:// URL opens pgstore; anything else is a file
// path for sqlitestore, whose parent directory is created (0700) if
// missing. It lives apart from package store so that store, which both
// backends import, does not import them back.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/pgstore"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
)

// ErrEmptyDSN is returned for an empty DSN, rather than creating a
// database file named "" in the working directory.
var ErrEmptyDSN = errors.New("store: empty database DSN (want a file path or a postgres:// URL)")

// Open opens the store dsn names: PostgreSQL for a postgres:// or
// postgresql:// URL, otherwise a SQLite file at that path.
func Open(ctx context.Context, dsn string, log *zap.Logger) (store.Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	switch {
	case dsn == "":
		return nil, ErrEmptyDSN
	case IsPostgres(dsn):
		return pgstore.Open(ctx, dsn, log)
	}
	if dir := filepath.Dir(dsn); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", dsn, err)
		}
	}
	return sqlitestore.Open(ctx, dsn, log)
}

// IsPostgres reports whether dsn is a PostgreSQL URL.
func IsPostgres(dsn string) bool {
	scheme, _, ok := strings.Cut(dsn, "://")
	scheme = strings.ToLower(scheme)
	return ok && (scheme == "postgres" || scheme == "postgresql")
}
