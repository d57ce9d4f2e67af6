package store

import (
	"bytes"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// With automatic checkpoints moved off the writer, the WAL must still be
// copied into the database and reused: it stays a few megabytes, not the
// tens of megabytes that thousands of unchecked commits would leave, and
// the data is all there after a reopen.
//
// The writer is paced by the checkpointer rather than by the clock: after
// each restart/4 commits (about restart pages) it waits, still
// committing slowly, until the WAL has been restarted (its header changes).
// Racing ahead as fast as it can, it made the WAL's size depend on how the
// scheduler treated the checkpointer, and the test fail one run in three.
// Then, writing without pauses, it checks that the WAL is still restarted
// (not how far it grows meanwhile, which is the scheduler's business).
func TestWALStaysBounded(t *testing.T) {
	s, path := openTest(t)
	ctx := ctxT(t)
	body := []byte("a message of some sixty bytes, give or take a few")
	commits := 0
	enqueue := func() {
		t.Helper()
		if _, err := s.Enqueue(ctx, "bob", body, time.Now()); err != nil {
			t.Fatalf("enqueue %d: %v", commits, err)
		}
		commits++
	}
	// The restart point, set here so that the test does not depend on
	// the store's choice of it.
	const restart = 1000
	s.ckpt.restartAt.Store(restart)
	const rounds = 8
	for round := range rounds {
		before := walHeader(t, path)
		for range restart / 4 {
			enqueue()
		}
		deadline := time.Now().Add(20 * time.Second)
		for bytes.Equal(walHeader(t, path), before) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the WAL was not restarted within 20s after %d commits", round, checkpointEvery)
			}
			time.Sleep(10 * time.Millisecond)
			enqueue()
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Each commit appends four pages: the commits here unchecked would
	// leave over 32 MB of WAL; restarted every thousand pages, it stays
	// near 4 to 6 (what the checkpointer's one-second tick lets the slow
	// commits add).
	if fi.Size() > 12<<20 {
		t.Fatalf("WAL is %d bytes after %d commits: it is not being reused", fi.Size(), commits)
	}
	// Under writes that never pause, a PASSIVE checkpoint never catches
	// up with the writer, so the WAL is reused only if the checkpointer
	// restarts it: it must still do so, again and again.
	deadline := time.Now().Add(20 * time.Second)
	for restarts, last := 0, walHeader(t, path); restarts < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("under steady writes the WAL was restarted %d times in 20s, want 3", restarts)
		}
		enqueue()
		if h := walHeader(t, path); !bytes.Equal(h, last) {
			restarts, last = restarts+1, h
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if p, err := s2.Pending(ctx, "bob", 0, commits+1); err != nil || len(p) != commits {
		t.Fatalf("after reopen: %d pending, %v; want %d", len(p), err, commits)
	}
}

// A burst of large messages, faster than the checkpointer's tick, must
// not grow the WAL past its size limit by more than one transaction: the
// commit that crosses the limit truncates it.
func TestWALBoundedBySize(t *testing.T) {
	s, path := openTest(t)
	ctx := ctxT(t)
	const limit = 4 << 20
	s.ckpt.sizeLimit.Store(limit)
	body := bytes.Repeat([]byte("w"), 64<<10)
	batch := [][]byte{body, body, body, body, body, body, body, body} // 512 KiB
	const batches = 64                                                // 32 MiB in all
	var prev, biggest, growth int64
	start := time.Now()
	for i := range batches {
		if _, err := s.EnqueueBatch(ctx, "bob", batch, time.Now()); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		biggest = max(biggest, fi.Size())
		growth = max(growth, fi.Size()-prev) // one transaction's WAL
		prev = fi.Size()
	}
	t.Logf("%d batches of 512 KiB in %v: WAL at most %.1f MiB (limit %d MiB, one batch %.1f MiB)",
		batches, time.Since(start).Round(time.Millisecond), float64(biggest)/(1<<20), limit>>20, float64(growth)/(1<<20))
	if biggest > limit+growth {
		t.Errorf("the WAL grew to %d bytes, over its limit %d plus one batch (%d)", biggest, limit, growth)
	}
	if p, err := s.Pending(ctx, "bob", 0, batches*len(batch)+1); err != nil || len(p) != batches*len(batch) {
		t.Fatalf("%d pending, %v; want %d", len(p), err, batches*len(batch))
	}
}

// A reader holding an old snapshot keeps the size-limit checkpoint from
// truncating the WAL: writes go on, the store warns once (not per
// commit), and the first commit after the reader is done truncates it.
func TestWALSizeLimitWithAReaderHoldingASnapshot(t *testing.T) {
	checkGoroutines(t)
	core, logs := observer.New(zap.WarnLevel)
	path := filepath.Join(t.TempDir(), "chatd.db")
	s, err := Open(path, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := ctxT(t)
	const limit = 1 << 20
	s.ckpt.sizeLimit.Store(limit)
	body := bytes.Repeat([]byte("r"), 64<<10)
	batch := [][]byte{body, body, body, body} // 256 KiB
	if _, err := s.EnqueueBatch(ctx, "bob", batch, time.Now()); err != nil {
		t.Fatal(err)
	}
	rtx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rtx.QueryRow("SELECT count(*) FROM messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	for i := range 24 { // 6 MiB
		if _, err := s.EnqueueBatch(ctx, "bob", batch, time.Now()); err != nil {
			t.Fatalf("batch %d with a reader holding a snapshot: %v", i, err)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= limit {
		t.Fatalf("the WAL is %d bytes although a reader held it up; the test proves nothing", fi.Size())
	}
	if w := logs.FilterMessage("store WAL is over its size limit; readers may be holding old snapshots").Len(); w != 1 {
		t.Errorf("%d warnings about the WAL over its limit, want 1", w)
	}
	rtx.Rollback()
	if _, err := s.EnqueueBatch(ctx, "bob", batch, time.Now()); err != nil {
		t.Fatal(err)
	}
	if fi, err = os.Stat(path + "-wal"); err != nil || fi.Size() > limit {
		t.Fatalf("after the reader ended, a commit left the WAL at %d bytes (%v), want at most %d", fi.Size(), err, limit)
	}
}

// walHeader returns the WAL's checkpoint sequence number and salts (bytes
// 12 to 24 of its header), which SQLite changes each time a writer starts
// the WAL again from its beginning; nil while there is no WAL.
func walHeader(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := make([]byte, 24)
	if _, err := io.ReadFull(f, h); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		t.Fatal(err)
	}
	return h[12:24]
}
