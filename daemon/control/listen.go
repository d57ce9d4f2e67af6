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
	// ErrUnsafeSocketDir means the socket's directory is another user's
	// or others may write to it: they could replace the socket with
	// their own and read what chatctl sends.
	ErrUnsafeSocketDir = errors.New("unsafe control socket directory")
)

// Listen makes the control socket at path: the parent directory is created
// 0700 if missing (and refused with ErrUnsafeSocketDir if it belongs to
// someone else or others may write to it), a socket left by a dead daemon
// is removed, a live one is left alone, and the new socket is made 0600.
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
	return checkDir(dir)
}

// checkDir refuses a socket directory in which another user could put a
// socket of their own in place of ours: one they own, or one they may
// write to (a sticky bit does not help: they could take the name while
// chatd is stopped). The error is one line, ending in a hint.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w %s: no owner information", ErrUnsafeSocketDir, dir)
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("%w %s: it belongs to uid %d, not to you (uid %d); hint: use a directory of your own, such as $XDG_RUNTIME_DIR/chatd (--control-socket)",
			ErrUnsafeSocketDir, dir, st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w %s: others may write to it (%v) and could replace the socket; hint: chmod go-w %s, or use a directory of your own (--control-socket)",
			ErrUnsafeSocketDir, dir, perm, dir)
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
// socket activation, or ErrNotSocketActivated when there is none. systemd
// made the socket, so only its directory can still be checked, by the
// rules Listen applies (chatd.socket's DirectoryMode=0700 passes).
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
	if err := checkActivated(found); err != nil {
		found.Close()
		return nil, err
	}
	return found, nil
}

// checkActivated checks the directory of a socket-activated listener; an
// abstract socket (a name starting with @) has none.
func checkActivated(ln net.Listener) error {
	name := ln.Addr().String()
	if name == "" || name[0] == '@' || !filepath.IsAbs(name) {
		return nil
	}
	return checkDir(filepath.Dir(name))
}
