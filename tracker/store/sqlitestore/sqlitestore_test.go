package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
	"github.com/p2pchat/p2pchat/tracker/store/storetest"
)

func open(t testing.TB, path string) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "tracker.db"))
	})
}

// A write by another process (here another Store on the file) reaches a
// watcher of this one as an InvalidateAll within Lag's promise, and the
// poll that finds it keeps Lag small.
func TestWatchSeesOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracker.db")
	writer, reader := open(t, path), open(t, path)
	var inv storetest.Invalidations
	reader.Watch(&inv)
	if err := writer.Create(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 1)); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	for inv.All() == 0 {
		if time.Since(committed) > 5*time.Second {
			t.Fatal("the other process's write was never reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if lag := reader.Lag(); lag > time.Second {
		t.Errorf("Lag() = %v after a poll, want under a second", lag)
	}
	// Its own writes are reported by name, before they return.
	if err := reader.Update(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 2), storetest.Key(1)); err != nil {
		t.Fatal(err)
	}
	if got := inv.Names(); len(got) != 1 || got[0] != "alice" {
		t.Errorf("own update reported %q, want [alice]", got)
	}
}

// Two Store instances on one file stand in for two processes: SQLite's file
// locks, not the Go-side single writer, must keep them correct.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracker.db")
	a, b := open(t, path), open(t, path)
	t.Run("RaceUpdates", func(t *testing.T) { storetest.RaceUpdates(t, a, b) })
	t.Run("RaceCreates", func(t *testing.T) { storetest.RaceCreates(t, a, b) })
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracker.db")
	st := open(t, path)
	rec := storetest.NewRecord("alice", storetest.Key(1), 3)
	if err := st.Create(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(t.Context(), "alice", storetest.Key(1), 4); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(t.Context(), storetest.NewRecord("bob", storetest.Key(2), 1)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open(t, path)
	if _, err := st.Get(t.Context(), "bob"); err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	// The tombstone survived too: the old registration is still a replay.
	err := st.Create(t.Context(), rec)
	if !errors.Is(err, store.ErrStaleSeq) {
		t.Fatalf("replayed Create after reopen: %v, want ErrStaleSeq", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var applied int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != migrationCount {
		t.Fatalf("schema_migrations has %d rows after two opens, want %d (each migration applied once)", applied, migrationCount)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

// Several processes may start at once on a fresh file; migrations must not
// run twice or fail on "table already exists".
func TestConcurrentOpenOfFreshFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracker.db")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			st, err := sqlitestore.Open(t.Context(), path, nil)
			if err == nil {
				err = st.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}

func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tracker.db")
	st := open(t, path)
	if err := st.Create(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the path given: %v", err)
	}
}

func TestOpenFailsInMissingDir(t *testing.T) {
	_, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "missing", "tracker.db"), nil)
	if err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

// benchStores are shared between the framework's repeated calls of a
// benchmark, so the 10,000 users are loaded once; TestMain removes them.
var benchStores struct {
	mu  sync.Mutex
	dir string
	st  *sqlitestore.Store
}

func benchOpen(b *testing.B) store.Store {
	bs := &benchStores
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.st != nil {
		return bs.st
	}
	if bs.dir == "" {
		dir, err := os.MkdirTemp("", "sqlitestore-bench")
		if err != nil {
			b.Fatal(err)
		}
		bs.dir = dir
	}
	st, err := sqlitestore.Open(context.Background(), filepath.Join(bs.dir, "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	bs.st = st
	return st
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStores.st != nil {
		benchStores.st.Close()
	}
	if benchStores.dir != "" {
		os.RemoveAll(benchStores.dir)
	}
	os.Exit(code)
}

// BenchmarkGet is a SQLite read: what a lookup the server's cache misses
// costs.
func BenchmarkGet(b *testing.B)    { storetest.BenchGet(b, benchOpen(b)) }
func BenchmarkUpdate(b *testing.B) { storetest.BenchUpdate(b, benchOpen(b)) }

// BenchmarkUpdateConcurrent is BenchmarkUpdate with 32 writers per CPU, as
// a busy tracker has many requests in flight: the case group commit is for.
func BenchmarkUpdateConcurrent(b *testing.B) {
	b.SetParallelism(32)
	storetest.BenchUpdate(b, benchOpen(b))
}

// The suite with the file memory-mapped, the option a read-only load may
// want, so that path stays right too.
func TestConformanceMmap(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := sqlitestore.OpenOptions(t.Context(), filepath.Join(t.TempDir(), "tracker.db"),
			sqlitestore.Options{MmapSize: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// migrationCount is the number of files in migrations/.
const migrationCount = 3
