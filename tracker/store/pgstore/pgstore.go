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
// succeed, it tries again. Concurrent writes share a transaction, sent as
// one pipelined batch (group commit, batch.go): one round trip and one
// WAL flush for many writes.
//
// The store reports every change to whoever Watches it: its own writes as
// they return, other processes' through LISTEN/NOTIFY (watch.go), with a
// bound on how late those reports are, so several trackers on one
// database can each keep a lookup cache.
//
// The schema lives in migrations/NNNN_*.sql, embedded; Open applies the new
// ones under pg_advisory_xact_lock, so processes starting together take
// turns.
package pgstore

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/groupcommit"
	"github.com/p2pchat/p2pchat/internal/migrate"
	"github.com/p2pchat/p2pchat/tracker/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	log  *zap.Logger
	pool *pgxpool.Pool
	// connConfig is the pool's, for the listener's own connection.
	connConfig *pgx.ConnConfig
	watch      watchers
	// The committer goroutine (batch.go) runs every Create, Update and
	// Delete; Close stops it.
	committer *groupcommit.Committer[writeReq]

	closeOnce sync.Once
}

var (
	_ store.Watcher = (*Store)(nil)
	_ store.Scanner = (*Store)(nil)
)

// instanceSetting is the session setting that names the tracker process
// behind a connection, so that the notify trigger can say who wrote.
const instanceSetting = "p2pchat.instance"

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

// OpenConfig is Open with a pool configuration built by the caller (who
// keeps it: the store works on a copy).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.Copy()
	instance := hex.EncodeToString(randomBytes(8))
	cfg.ConnConfig.RuntimeParams[instanceSetting] = instance
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	s := &Store{log: log, pool: pool, connConfig: cfg.ConnConfig.Copy()}
	s.watch.instance, s.watch.start = instance, time.Now()
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	s.startCommitter()
	log.Info("postgres store open", zap.String("database", where))
	return s, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	return migrate.Run(ctx, migrator{s.pool}, ms, s.log)
}

// Close stops the listener and the committer (writes after it fail with
// ErrClosed) and closes the pool, waiting for connections in use to be
// returned. It is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopListener()
		s.committer.Stop()
		s.pool.Close()
	})
	return nil
}

// ErrClosed is returned by writes on a closed Store.
var ErrClosed = errors.New("postgres store closed")
