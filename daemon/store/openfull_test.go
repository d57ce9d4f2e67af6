//go:build linux

package store

import (
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
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a small tmpfs")
	}
	checkGoroutines(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m,mode=0700"); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
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
	fill(t, filler)

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

// fill appends to path until its file system has no byte left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10, 1} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); errors.Is(err, syscall.ENOSPC) {
				break
			} else if err != nil {
				t.Fatalf("fill %s: %v", path, err)
			}
		}
	}
}
