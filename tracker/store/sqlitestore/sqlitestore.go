// Package sqlitestore is the tracker's default store: one SQLite file
// (modernc.org/sqlite, no cgo) in WAL mode, for a single tracker process.
//
//	st, err := sqlitestore.Open(ctx, "/var/lib/chat-tracker/tracker.db", log)
//	if err != nil { ... }
//	defer st.Close()
//
// Lookups are the hot path, so the store keeps two connection pools: a pool
// of read-only connections sized to the CPUs, which WAL lets read in
// parallel with the writer, and a single writer connection, because SQLite
// admits one writer at a time anyway and queueing in Go is cheaper than
// spinning on SQLITE_BUSY. Writes run in BEGIN IMMEDIATE transactions, so
// even a second process on the same file waits (busy_timeout) instead of
// failing halfway. A commit costs far more than a write, so concurrent
// Create, Update and Delete calls share one transaction (group commit, by
// a goroutine the Store owns until Close); each still gets its own result,
// as if the writes had run one after another in the order they arrived.
//
// The store caches nothing itself: the server keeps its answers ready in
// front of it. It reports its writes to whoever Watches it, and polls the
// file for commits by other processes (not a supported deployment, but a
// direct preload does it) so that such a cache hears of those too.
//
// The schema lives in migrations/NNNN_*.sql, embedded; Open applies the new
// ones.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"modernc.org/sqlite" // also registers the "sqlite" driver

	"github.com/p2pchat/p2pchat/internal/groupcommit"
	"github.com/p2pchat/p2pchat/internal/migrate"
	"github.com/p2pchat/p2pchat/tracker/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeoutMS is how long a connection waits for another process's write
// lock before failing with SQLITE_BUSY.
const busyTimeoutMS = 5000

// Store is a store.Store backed by one SQLite file.
type Store struct {
	log   *zap.Logger
	watch watchers
	path  string
	// mmapSize is Options.MmapSize.
	mmapSize int64
	writer   *sql.DB // exactly one connection
	reader   *sql.DB // read-only connections
	stmts    statements

	// The committer goroutine (batch.go) runs every Create, Update and
	// Delete; Close stops it.
	committer *groupcommit.Committer[writeReq]

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Watcher = (*Store)(nil)
	_ store.Scanner = (*Store)(nil)
)

// Options tune a Store; the zero value gives the defaults.
type Options struct {
	Log *zap.Logger // nil: no logging
	// MmapSize is how much of the database file each connection
	// memory-maps (PRAGMA mmap_size); 0 means none. Mapping saves a pread
	// per page on a read-only load, but in WAL mode every read transaction
	// that follows a commit unmaps and remaps the file, which under a
	// stream of updates nearly doubled the tracker's CPU per update
	// (measured: 470 against 265 microseconds; 1,600 against 2,500
	// updates/s at 1M users, lookups unchanged).
	MmapSize int64
}

// Open opens (creating if needed) the SQLite database at path with the
// default Options and brings its schema up to date. The parent directory
// must exist.
func Open(ctx context.Context, path string, log *zap.Logger) (*Store, error) {
	return OpenOptions(ctx, path, Options{Log: log})
}

// OpenOptions is Open with Options.
func OpenOptions(ctx context.Context, path string, o Options) (*Store, error) {
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{log: log, path: path, mmapSize: max(o.MmapSize, 0)}
	s.watch.start = time.Now()
	if err := s.open(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s.startCommitter()
	log.Info("sqlite store open", zap.String("path", path))
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.writer, err = sql.Open("sqlite", dsn(s.path, false, s.mmapSize)); err != nil {
		return err
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxIdleTime(0)
	// Migrate before the readers open so they find the file in WAL mode.
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if s.reader, err = sql.Open("sqlite", dsn(s.path, true, s.mmapSize)); err != nil {
		return err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	s.reader.SetMaxOpenConns(n)
	s.reader.SetMaxIdleConns(n)
	return s.stmts.prepare(ctx, s.writer, s.reader)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	// When several processes open a fresh file at once, one of them
	// switching it to WAL can make another's BEGIN fail with SQLITE_BUSY
	// without waiting in the busy handler; retry within the busy timeout.
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	for {
		err = migrate.Run(ctx, migrator{s.writer}, ms, s.log)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(10+rand.IntN(40)) * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 5
}

// dsn builds the modernc.org/sqlite DSN. Pragmas go in the DSN so that every
// connection the pool opens gets them, not just the first.
func dsn(path string, readOnly bool, mmapSize int64) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Memory-mapping saves about a third of an uncached lookup's CPU on a
	// read-only load, but costs updates more (see Options.MmapSize).
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapSize))
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_txlock", "immediate")
	}
	// A file: URI lets the path hold '?' or '#'; SQLite decodes the escapes.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}

// Close closes the store. It is safe to call twice.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopPoll()
		s.stopCommitter()
		s.closeErr = s.closeDBs()
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close sqlite store %s: %w", s.path, s.closeErr)
		}
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	errs := []error{s.stmts.close()}
	for _, db := range []*sql.DB{s.reader, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}
