//go:build linux

package store

import (
	"github.com/p2pchat/p2pchat/internal/testenv"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenOnFullDisk starts the store on a disk that filled while it was
// closed: a clean Close removed SQLite's -wal and -shm files, which cannot
// be made again. Open must say the disk is full (SQLite says "disk I/O
// error"), and once there is room open with everything in it.
func TestOpenOnFullDisk(t *testing.T) {
	dir := testenv.Tmpfs(t, t.TempDir(), 4<<20)
	checkGoroutines(t)
	path := filepath.Join(dir, "chatd.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueBatch(ctxT(t), "bob", bodies("kept", 3), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	testenv.FillDisk(t, filler)

	_, err = Open(path, nil)
	if err == nil {
		t.Fatal("Open on a full disk succeeded")
	}
	var ofe *OpenDiskFullError
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &ofe) {
		t.Fatalf("Open on a full disk: %v (%#v), want an *OpenDiskFullError wrapping ErrDiskFull", err, err)
	}
	if want := "disk is full: cannot open the database in " + dir; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open on a full disk: %q, want it to begin %q", err, want)
	}
	if ofe.Err == nil {
		t.Error("OpenDiskFullError holds no cause")
	}
	t.Logf("Open on a full disk: %v (cause: %v)", err, ofe.Err)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, nil)
	if err != nil {
		t.Fatalf("Open after space returned: %v", err)
	}
	defer s.Close()
	if p, err := s.Pending(ctxT(t), "bob", 0, 10); err != nil || len(p) != 3 {
		t.Fatalf("after space returned: %d pending, %v; want the 3 stored before", len(p), err)
	}
}

// TestOpenFailureNotFullDisk: an I/O error with room to spare is not put
// down to a full disk.
func TestOpenFailureNotFullDisk(t *testing.T) {
	if fullOnOpen(fmt.Errorf("open: %w", syscall.EACCES), func() (uint64, error) { return 0, nil }) {
		t.Error("EACCES taken for a full disk")
	}
	if !fullOnOpen(fmt.Errorf("open: %w", syscall.ENOSPC), func() (uint64, error) { return 1 << 40, nil }) {
		t.Error("ENOSPC not taken for a full disk")
	}
}
