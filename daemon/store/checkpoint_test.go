package store

import (
	"os"
	"testing"
	"time"
)

// With automatic checkpoints moved off the writer, the WAL must still be
// copied into the database and reused: it stays a few megabytes, not the
// tens of megabytes that thousands of unchecked commits would leave, and
// the data is all there after a reopen.
func TestWALStaysBounded(t *testing.T) {
	s, path := openTest(t)
	ctx := ctxT(t)
	const commits = 2000
	for i := range commits {
		if _, err := s.Enqueue(ctx, "bob", []byte("a message of some sixty bytes, give or take a few"), time.Now()); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Each commit appends four pages: 2000 unchecked commits would leave
	// 32 MB of WAL; restarted every thousand pages or so, it stays near 8.
	if fi.Size() > 12<<20 {
		t.Fatalf("WAL is %d bytes after %d commits: checkpoints are not keeping up", fi.Size(), commits)
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
