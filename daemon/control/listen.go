package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
)

// Sentinel errors for the cases the daemon's main branches on.
var (
	// ErrAlreadyRunning means another process answers on the socket.
	ErrAlreadyRunning = errors.New("another chatd is running")
	// ErrNotSocketActivated means systemd passed no listener.
	ErrNotSocketActivated = errors.New("not socket-activated")
)

// Listen makes the control socket at path: the parent directory is created
// 0700 if missing (and refused if it belongs to someone else and others can
// reach into it), a socket left by a dead daemon is removed, a live one is
// left alone, and the new socket is made 0600.
func Listen(path string) (net.Listener, error) {
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// Peer credentials are checked on every request, so the short window
	// before this chmod grants nothing.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return ln, nil
}

func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make socket directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("make socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("socket directory %s: no owner information", dir)
	}
	if int(st.Uid) != os.Getuid() && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("socket directory %s belongs to uid %d and is open to others (%v); use a directory of your own",
			dir, st.Uid, fi.Mode().Perm())
	}
	return nil
}

// removeStale dials first, the way Tailscale's safesocket does: a socket
// that answers belongs to a live daemon, one that refuses is stale.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; not removing it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w on %s", ErrAlreadyRunning, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// ListenerFromSystemd returns the control socket that systemd passed by
// socket activation, or ErrNotSocketActivated when there is none.
func ListenerFromSystemd() (net.Listener, error) {
	lns, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("systemd socket activation: %w", err)
	}
	var found net.Listener
	for _, ln := range lns {
		if ln == nil {
			continue // not a stream socket
		}
		if _, ok := ln.(*net.UnixListener); ok && found == nil {
			found = ln
			continue
		}
		ln.Close() // we use one socket; don't hold the others open
	}
	if found == nil {
		return nil, ErrNotSocketActivated
	}
	return found, nil
}
