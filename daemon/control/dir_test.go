package control_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

// openDir makes dir with exactly mode (the umask would trim it).
func openDir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// A directory others may write to lets them swap the socket for their own,
// even when it is ours; one of another user's, even private, is theirs to
// swap. Both are refused with one line that says why and what to do.
func TestListenRefusesUnsafeDir(t *testing.T) {
	controltest.CheckGoroutines(t)
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int // -1: ours
		why   string
	}{
		{"world-writable", 0o777, -1, "others may write to it"},
		{"sticky like /tmp", 0o777 | os.ModeSticky, -1, "others may write to it"},
		{"group-writable", 0o770, -1, "others may write to it"},
		{"another user's, private", 0o700, 65534, "belongs to uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.owner >= 0 && os.Getuid() != 0 {
				skipOrFail(t, "needs root to make a directory owned by another user")
			}
			dir := filepath.Join(shortDir(t), "run")
			openDir(t, dir, tc.mode)
			if tc.owner >= 0 {
				if err := os.Chown(dir, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			ln, err := control.Listen(filepath.Join(dir, "control.sock"))
			if err == nil {
				ln.Close()
				t.Fatalf("Listen used a %s directory (%v)", tc.name, tc.mode)
			}
			msg := err.Error()
			if !errors.Is(err, control.ErrUnsafeSocketDir) || !strings.Contains(msg, tc.why) || !strings.Contains(msg, "hint: ") || strings.Contains(msg, "\n") {
				t.Errorf("got %q, want one line with ErrUnsafeSocketDir, %q and a hint", msg, tc.why)
			}
			if _, err := os.Lstat(filepath.Join(dir, "control.sock")); err == nil {
				t.Error("the socket was made anyway")
			}
		})
	}
}

// Our own directory, even one others may read, is fine.
func TestListenAcceptsOwnReadableDir(t *testing.T) {
	controltest.CheckGoroutines(t)
	dir := filepath.Join(shortDir(t), "run")
	openDir(t, dir, 0o755)
	ln, err := control.Listen(filepath.Join(dir, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

// systemd made the socket, but its directory can still be checked.
func TestSocketActivatedInWritableDirRefused(t *testing.T) {
	controltest.CheckGoroutines(t)
	dir := filepath.Join(shortDir(t), "run")
	openDir(t, dir, 0o777)
	sock := filepath.Join(dir, "control.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mustExecutable(t)) // refused, it exits at once; else killed
	cmd.Env = append(os.Environ(), helperEnv+"=systemd", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "others may write to it") {
		t.Fatalf("socket-activated chatd in a world-writable directory: %v %q, want refused", err, out)
	}
}
