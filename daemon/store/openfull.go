package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// openLowSpace is the free space (bytes) under which a failure to open the
// database is put down to a full disk. SQLite cannot create its -wal and
// -shm files on a disk that filled while chatd was stopped, and says only
// "disk I/O error" (SQLITE_IOERR_SHMSIZE, 4874, and its kin): the space
// left tells that apart from a failing disk.
const openLowSpace = 1 << 20

// OpenDiskFullError: Open failed because the file system holding the
// database has no room left. Nothing stored was lost. It matches
// ErrDiskFull (and so syscall.ENOSPC) and the cause.
type OpenDiskFullError struct {
	Dir string // the directory holding the database
	Err error  // the cause, as SQLite or the OS gave it
}

func (e *OpenDiskFullError) Error() string {
	return fmt.Sprintf("disk is full: cannot open the database in %s; hint: free some space on that disk, nothing stored was lost", e.Dir)
}

func (e *OpenDiskFullError) Unwrap() []error { return []error{ErrDiskFull, e.Err} }

// openErr returns err, from opening the database at abs, as an
// *OpenDiskFullError when a full disk caused it.
func openErr(abs string, err error) error {
	dir := filepath.Dir(abs)
	if fullOnOpen(err, func() (uint64, error) { return freeBytes(dir) }) {
		return &OpenDiskFullError{Dir: dir, Err: err}
	}
	return err
}

// fullOnOpen reports whether err comes of a full disk: ENOSPC or
// SQLITE_FULL said so, or an I/O error (or a file SQLite could not make)
// while less than openLowSpace is free.
func fullOnOpen(err error, free func() (uint64, error)) bool {
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return true
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		n, ferr := free()
		return ferr == nil && n < openLowSpace
	}
	return false
}

// freeBytes is the space on dir's file system that chatd may use.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
