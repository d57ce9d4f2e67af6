// Package pgstore is the tracker's PostgreSQL store, for running several
// stateless tracker processes on one database (jackc/pgx, pgxpool).
//
//	st, err := pgstore.Open(ctx, "postgres://tracker:pw@127.0.0.1:5432/tracker", log)
//	if err != nil { ... }
//	defer st.Close()
//
// Pool settings come from the URL (pool_max_conns=16, ...), or build a
// pgxpool.Config yourself and call OpenConfig; setting
// ConnConfig.RuntimeParams["search_path"] puts the tables in another schema.
//
// Each write is one conditional statement (INSERT ... ON CONFLICT DO UPDATE
// ... WHERE, UPDATE ... WHERE key AND seq), which PostgreSQL applies
// atomically against the latest committed row even under READ COMMITTED,
// so concurrent processes never lose an update or accept a replay. Only
// when a write changes nothing does the store read the row to say why; if
// another writer changed it in between so that the write would now
// succeed, it tries again.
//
// The schema lives in migrations/NNNN_*.sql, embedded; Open applies the new
// ones under pg_advisory_xact_lock, so processes starting together take
// turns.
package pgstore

import (
	"context"
	"embed"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/migrate"
	"github.com/p2pchat/p2pchat/tracker/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	log  *zap.Logger
	pool *pgxpool.Pool

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...) and brings its
// schema up to date.
//
// Unless the URL sets pool_max_conns, the pool holds up to
// max(8, 4×GOMAXPROCS) connections rather than pgx's max(4, NumCPU): each
// request spends most of its time waiting for a round trip, so more
// connections than cores keep the CPUs busy.
func Open(ctx context.Context, url string, log *zap.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL may hold a password; pgx's error does not repeat it.
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	return OpenConfig(ctx, cfg, log)
}

// OpenConfig is Open with a pool configuration built by the caller.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	s := &Store{log: log, pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	log.Info("postgres store open", zap.String("database", where))
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	return migrate.Run(ctx, migrator{s.pool}, ms, s.log)
}

// Close closes the pool, waiting for connections in use to be returned.
// It is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}
