package control_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/p2pchat/p2pchat/internal/testenv"

	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListenMakesPrivateDirAndSocket(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := filepath.Join(shortDir(t), "run", "chatd", "control.sock")
	ln, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for path, want := range map[string]os.FileMode{filepath.Dir(sock): 0o700, sock: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := filepath.Join(shortDir(t), "control.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false) // what a crashed daemon leaves behind
	old.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	ln, err := control.Listen(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("new socket does not answer: %v", err)
	}
	c.Close()
}

func TestListenLeavesLiveDaemonAlone(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := filepath.Join(shortDir(t), "control.sock")
	first, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = control.Listen(sock)
	if !errors.Is(err, control.ErrAlreadyRunning) {
		t.Fatalf("second Listen: got %v, want ErrAlreadyRunning", err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("first daemon's socket was taken away: %v", err)
	}
	c.Close()
}

func TestListenRefusesToRemoveNonSocket(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := filepath.Join(shortDir(t), "control.sock")
	if err := os.WriteFile(sock, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := control.Listen(sock); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
	if b, _ := os.ReadFile(sock); string(b) != "precious" {
		t.Error("regular file was changed")
	}
}

func TestListenRefusesForeignOpenDir(t *testing.T) {
	controltest.CheckGoroutines(t)
	if os.Getuid() != 0 {
		skipOrFail(t, "needs root to make a directory owned by another user")
	}
	dir := filepath.Join(shortDir(t), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if ln, err := control.Listen(filepath.Join(dir, "control.sock")); err == nil {
		ln.Close()
		t.Fatal("Listen used a world-writable directory owned by another user")
	}
}

func TestListenerFromSystemdWithoutActivation(t *testing.T) {
	controltest.CheckGoroutines(t)
	t.Setenv("LISTEN_PID", "")
	t.Setenv("LISTEN_FDS", "")
	if _, err := control.ListenerFromSystemd(); !errors.Is(err, control.ErrNotSocketActivated) {
		t.Fatalf("got %v, want ErrNotSocketActivated", err)
	}
}

func skipOrFail(t *testing.T, reason string) {
	testenv.SkipOrFail(t, reason)
}
