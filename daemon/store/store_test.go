package store

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/p2pchat/p2pchat/internal/migrate"

	"go.uber.org/zap"
)

func TestDataSurvivesReopen(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "sub", "chatd.db")
	ctx := ctxT(t)
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	bob := newKey(t)
	if _, _, err := s.PinContact(ctx, "bob", bob); err != nil {
		t.Fatal(err)
	}
	out, err := s.EnqueueBatch(ctx, "bob", bodies("q", 3), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkDelivered(ctx, "bob", ids(out[:1])); err != nil {
		t.Fatal(err)
	}
	in := incoming(2, "from bob")
	if _, err := s.Receive(ctx, "bob", in); err != nil {
		t.Fatal(err)
	}
	lastEvent := s.LastEventID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, err := s.Contact(ctx, "bob"); err != nil || !bytes.Equal(c.PublicKey, bob) {
		t.Fatalf("contact after reopen: %+v, %v", c, err)
	}
	if p, _ := s.Pending(ctx, "bob", 0, 10); len(p) != 2 || p[0].ID != out[1].ID {
		t.Fatalf("pending after reopen: %+v", p)
	}
	if h, _ := s.History(ctx, "bob", 10, 0); len(h) != 5 {
		t.Fatalf("history after reopen has %d messages, want 5", len(h))
	}
	if fresh, _ := s.Receive(ctx, "bob", in); fresh[0] || fresh[1] {
		t.Fatal("dedupe forgot messages across restart")
	}
	if s.LastEventID() != lastEvent {
		t.Fatalf("LastEventID after reopen = %d, want %d", s.LastEventID(), lastEvent)
	}
	if e, _ := s.AppendEvent(ctx, Event{Type: EventPresence}); e.ID != lastEvent+1 {
		t.Fatalf("event after reopen has ID %d, want %d", e.ID, lastEvent+1)
	}
}

func TestFileModeAndPragmas(t *testing.T) {
	s, path := openTest(t)
	if _, err := s.Enqueue(ctxT(t), "bob", []byte("x"), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "5000",
	} {
		var got string
		if err := s.w.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("writer PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
	var qo int
	if err := s.r.QueryRow("PRAGMA query_only").Scan(&qo); err != nil || qo != 1 {
		t.Errorf("read pool query_only = %d, %v", qo, err)
	}
}

// Every write is synced (synchronous=FULL: the WAL is fdatasynced in the
// commit) except the few that promise nothing (TouchContact, MarkSent's
// late record), which turn it down for their own transaction only.
func TestWritesAreSyncedUnlessLazy(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	sync := func() string {
		t.Helper()
		var got string
		if err := s.w.QueryRow("PRAGMA synchronous").Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	key := newKey(t)
	if _, _, err := s.PinContact(ctx, "bob", key); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchContact(ctx, "bob", time.Now()); err != nil || sync() != "1" {
		t.Fatalf("after TouchContact: synchronous=%s, %v; want 1 (NORMAL)", sync(), err)
	}
	m, err := s.Enqueue(ctx, "bob", []byte("x"), time.Now())
	if err != nil || sync() != "2" {
		t.Fatalf("after Enqueue: synchronous=%s, %v; want 2 (FULL)", sync(), err)
	}
	if err := s.TouchContact(ctx, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(ctx, "bob", key, []Message{{ID: newMessageID(), Body: []byte("y")}}, testLimits); err != nil || sync() != "2" {
		t.Fatalf("after Deliver: synchronous=%s, %v; want 2 (FULL)", sync(), err)
	}
	if err := s.TouchContact(ctx, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkDelivered(ctx, "bob", [][16]byte{m.ID}); err != nil || sync() != "2" {
		t.Fatalf("after MarkDelivered: synchronous=%s, %v; want 2 (FULL)", sync(), err)
	}
}

func TestOpenTightensPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chatd.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	_, path := openTest(t)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path, nil)
	if !errors.Is(err, ErrSchemaTooNew) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestMigrateAppliesOnlyNew(t *testing.T) {
	ctx := ctxT(t)
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	v1 := fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x); INSERT INTO a VALUES (1);")}}
	v2 := fstest.MapFS{
		"0001_a.sql": v1["0001_a.sql"],
		"0002_b.sql": {Data: []byte("CREATE TABLE b (y); INSERT INTO a VALUES (2);")},
	}
	for _, fsys := range []fstest.MapFS{v1, v1, v2, v2} { // re-running must be a no-op
		if err := migrateSchema(ctx, db, fsys, zap.NewNop()); err != nil {
			t.Fatal(err)
		}
	}
	var rows, version int
	db.QueryRow("SELECT count(*) FROM a").Scan(&rows)
	db.QueryRow("PRAGMA user_version").Scan(&version)
	if rows != 2 || version != 2 {
		t.Fatalf("rows=%d version=%d, want each migration applied once (2, 2)", rows, version)
	}
	if err := migrateSchema(ctx, db, v1, zap.NewNop()); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("older program on newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestMigrationFailureRollsBack(t *testing.T) {
	ctx := ctxT(t)
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	bad := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE a (x);")},
		"0002_b.sql": {Data: []byte("CREATE TABLE b (y); THIS IS NOT SQL;")},
	}
	if err := migrateSchema(ctx, db, bad, zap.NewNop()); err == nil {
		t.Fatal("broken migration applied")
	}
	var version, tables int
	db.QueryRow("PRAGMA user_version").Scan(&version)
	db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'b'").Scan(&tables)
	if version != 1 || tables != 0 {
		t.Fatalf("after failed migration: version=%d, table b exists=%d; want 1, 0", version, tables)
	}
}

func TestListMigrationsRejectsBadNumbering(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"0001_a.sql": {}, "0003_c.sql": {}},
		"duplicate": {"0001_a.sql": {}, "0001_b.sql": {}},
		"bad name":  {"init.sql": {}},
	} {
		if _, err := migrate.Load(fsys, "."); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ms, err := migrate.Load(migrationFS, ".")
	if err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %v, %v", ms, err)
	}
}

// TestDiskFull fills the database (PRAGMA max_page_count on the writer
// connection stands in for a full disk) and checks that failed writes are
// reported, leave nothing half-written, lose nothing committed, and that the
// store works again once there is room.
func TestDiskFull(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	kept, err := s.Receive(ctx, "alice", incoming(3, "before"))
	if err != nil || len(kept) != 3 {
		t.Fatal(err)
	}
	eventsBefore := s.LastEventID()
	var pages int
	if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+2)); err != nil {
		t.Fatal(err)
	}

	big := incoming(20, string(bytes.Repeat([]byte("z"), 32<<10)))
	if _, err := s.Receive(ctx, "alice", big); err == nil {
		t.Fatal("Receive into a full database succeeded")
	} else {
		t.Logf("Receive error (expected): %v", err)
	}
	if _, err := s.EnqueueBatch(ctx, "alice", [][]byte{big[0].Body, big[1].Body, big[2].Body}, time.Now()); err == nil {
		t.Fatal("EnqueueBatch into a full database succeeded")
	}
	if _, err := s.Enqueue(ctx, "alice", big[0].Body, time.Now()); err == nil {
		t.Fatal("Enqueue into a full database succeeded")
	}
	if h, _ := s.History(ctx, "alice", 100, 0); len(h) != 3 {
		t.Fatalf("history has %d messages after failed writes, want the 3 committed before", len(h))
	}
	if evs, _ := s.Events(ctx, eventsBefore, 100); len(evs) != 0 || s.LastEventID() != eventsBefore {
		t.Fatalf("failed writes left %d events", len(evs))
	}

	if _, err := s.w.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.Receive(ctx, "alice", big)
	if err != nil {
		t.Fatalf("Receive after space freed: %v", err)
	}
	for i, f := range fresh {
		if !f {
			t.Fatalf("message %d of the failed batch was half-written earlier", i)
		}
	}
	if _, err := s.Enqueue(ctx, "alice", []byte("ok"), time.Now()); err != nil {
		t.Fatalf("Enqueue after space freed: %v", err)
	}
}

func TestOpenFailsCleanly(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	// A directory where the database file should be.
	if err := os.Mkdir(filepath.Join(dir, "chatd.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(filepath.Join(dir, "chatd.db"), nil); err == nil {
		s.Close()
		t.Fatal("Open on a directory succeeded")
	}
}
