package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const (
	readPoolSize     = 4
	busyTimeout      = 5 * time.Second
	journalSizeLimit = 8 << 20
)

// Store is chatd's database. All methods are safe for concurrent use.
type Store struct {
	log *zap.Logger
	now func() time.Time

	w  *sql.DB // the single writer connection; every write goes through it
	r  *sql.DB // read-only pool
	cp *sql.DB // the checkpointer's connection

	// wmu serialises write transactions together with the writer
	// connection's synchronous setting, which a transaction that need
	// not be durable turns down for itself (see writeTx).
	wmu    sync.Mutex
	synced bool // guarded by wmu: the writer runs with synchronous=FULL

	commits, syncedCommits atomic.Int64 // see Stats

	stmts *writeStmts
	gc    *groupCommit
	ckpt  *checkpointer
	feed  *eventFeed
	tail  *outboxTail // the newest undelivered outgoing messages, for Pending
	sent  *sentMarks  // MarkSent's marks not written yet
	rs    readStmts   // the read pool's prepared statements

	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the database at path (file mode 0600, parent
// directories 0700), applies pending schema migrations and starts the group
// committer. log may be nil.
func Open(path string, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	if err := prepareFile(abs, log); err != nil {
		return nil, openErr(abs, fmt.Errorf("open store %q: %w", path, err))
	}
	s := &Store{log: log, now: time.Now, tail: newOutboxTail(), sent: newSentMarks(), synced: true}
	if err := s.open(abs); err != nil {
		s.closeDBs()
		return nil, openErr(abs, fmt.Errorf("open store %q: %w", path, err))
	}
	s.ckpt = startCheckpointer(s.cp, &s.wmu, abs+"-wal", log)
	s.gc = startGroupCommit(s)
	return s, nil
}

func (s *Store) open(abs string) error {
	var err error
	if s.w, err = sql.Open("sqlite", dsn(abs, false, busyTimeout)); err != nil {
		return err
	}
	// One connection, kept forever: it serialises writers in-process, keeps
	// prepared statements warm and makes commit order equal event ID order.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if err := migrateSchema(ctx, s.w, migrationFS, s.log); err != nil {
		return err
	}
	if s.r, err = sql.Open("sqlite", dsn(abs, true, busyTimeout)); err != nil {
		return err
	}
	s.r.SetMaxOpenConns(readPoolSize)
	s.r.SetMaxIdleConns(readPoolSize)
	// The checkpointer never waits in SQLite's busy handler (it sleeps
	// while holding the writer's mutex for a RESTART): a checkpoint that
	// readers hold up is left for the next round.
	if s.cp, err = sql.Open("sqlite", dsn(abs, false, 0)); err != nil {
		return err
	}
	s.cp.SetMaxOpenConns(1)
	if s.stmts, err = prepareWriteStmts(ctx, s.w); err != nil {
		return err
	}
	last, err := lastEventID(ctx, s.w)
	if err != nil {
		return err
	}
	s.feed = newEventFeed(last)
	return nil
}

// dsn builds a modernc.org/sqlite data source name. The path is a file: URI
// so that any character in it is escaped rather than read as a parameter.
func dsn(abs string, readOnly bool, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	if readOnly {
		q.Add("_pragma", "synchronous(NORMAL)")
	} else {
		// Every commit is on stable storage before it returns: the WAL
		// is synced (fdatasync) in the commit. A message is acknowledged,
		// and an event shown, only once a power loss can no longer take
		// it back. The group committer makes many callers share one
		// commit and so one sync; writes that need no such promise
		// (MarkSent's record) turn it down for their transaction alone.
		// Checkpoints still sync the WAL before copying it, and the
		// database after.
		q.Add("_pragma", "synchronous(FULL)")
	}
	// After a checkpoint restarts the WAL, SQLite truncates it to this
	// size: a burst of large messages must not leave a WAL of its size.
	// It is above the size at which the checkpointer restarts the WAL
	// (restartFrames pages, 4 MB, and what comes in before it looks), so
	// that in steady use the WAL is written over in place: a commit that
	// grows the file makes its sync commit the file system's journal too,
	// which made a synced commit half as slow again (p50) and its p99
	// several times longer.
	q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", journalSizeLimit))
	q.Add("_pragma", "foreign_keys(ON)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// Take the write lock at BEGIN, so a transaction that reads before
		// writing can never fail to upgrade its lock half-way.
		q.Set("_txlock", "immediate")
		// Checkpoints run on their own connection (see checkpointer),
		// never inside a writer's commit.
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// prepareFile creates the database file with mode 0600 before SQLite does:
// SQLite gives its -wal and -shm files the mode of the main file, so this one
// decision keeps all three private. An existing file readable by others is
// tightened rather than refused, as it holds no secret keys.
func prepareFile(abs string, log *zap.Logger) error {
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("store file was accessible to others; restricting to 0600",
			zap.String("path", abs), zap.Stringer("mode", fi.Mode().Perm()))
		if err := f.Chmod(0o600); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the group committer, wakes event waiters and closes the
// database. Calls in flight finish or fail with ErrClosed. Safe to call more
// than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.flushSentMarks()
		s.gc.Stop()
		s.ckpt.stop()
		s.feed.close()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	errs := []error{s.closeReaders()}
	if s.stmts != nil {
		errs = append(errs, s.stmts.close())
	}
	for _, db := range []*sql.DB{s.cp, s.r, s.w} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// closed reports whether Close has begun, so that methods fail with
// ErrClosed rather than a driver error.
func (s *Store) closed() bool {
	select {
	case <-s.gc.Stopping():
		return true
	default:
		return false
	}
}
