package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The control socket is the user's alone: the daemon checks the caller's
// UID from the socket's peer credentials, so even with the file
// permissions opened up another user is refused.
func TestOtherUIDRefused(t *testing.T) {
	needRoot(t, "setpriv needs root to run chatctl as another user")
	setpriv := lookPath(t, "setpriv", "runs chatctl as uid 65534")
	e, alice, _ := pair(t)

	// Test only: let uid 65534 reach the socket and run the binary. chatctl
	// itself now refuses first (the server is not its user's: SO_PEERCRED)
	// and sends nothing; chatd's own check of the caller is tested in
	// daemon/control (as root and as uid 65534).
	for path, mode := range map[string]os.FileMode{binDir: 0o755, e.sockDir: 0o755, alice.sock: 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		bin("chatctl"), "--socket", alice.sock, "status")
	cmd.Env = e.env
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("uid 65534 got chatd's status:\n%s", out)
	}
	if _, ok := err.(*exec.ExitError); !ok {
		t.Fatalf("run setpriv: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "served by uid 0, not by you (uid 65534); nothing was sent") {
		t.Errorf("refusal does not say why:\n%s", out)
	}
	if st, ok := alice.status(); ok && (strings.Contains(string(out), st.Fingerprint) || strings.Contains(string(out), "registered")) {
		t.Errorf("the refusal leaks the daemon's data:\n%s", out)
	}
	if st, ok := alice.status(); !ok || st.Name != "alice" {
		t.Error("the daemon's own user cannot use it after the refusal")
	}
}

// systemd-socket-activate stands in for systemd: it owns the control
// socket, and on the first connection execs chatd (same PID) with the
// socket passed as LISTEN_FDS.
func TestSocketActivation(t *testing.T) {
	activate := lookPath(t, "systemd-socket-activate", "it stands in for systemd's socket activation (Debian package systemd)")
	e := newEnv(t)
	tr := e.startTracker()
	bob := e.startDaemon("bob", tr.url)

	alice := e.newChatd("alice", tr.url)
	activated := filepath.Join(e.sockDir, "activated.sock")
	args := []string{activate, "-l", activated}
	for _, kv := range e.userEnv() { // it passes only the variables it is told to
		args = append(args, "-E", kv)
	}
	args = append(args, bin("chatd"))
	args = append(args, alice.args()...) // --control-socket names a path chatd must not use
	alice.p = e.start("systemd-socket-activate chatd alice", args...)
	waitFor(t, "systemd-socket-activate to listen", func() bool {
		_, err := os.Stat(activated)
		return err == nil
	})
	alice.sock = activated
	alice.waitRegistered()

	if _, err := os.Stat(filepath.Join(e.sockDir, "alice.sock")); err == nil {
		t.Error("socket-activated chatd also made its own control socket")
	}
	befriend(alice, bob)
	alice.must("send", "--wait", "bob", "from a socket-activated daemon")
	bob.waitBodies("alice", []string{"in:from a socket-activated daemon"})
	alice.stop() // SIGTERM to the PID that is now chatd; must exit 0
}

func TestControlSocketStaleAndLive(t *testing.T) {
	e := newEnv(t)
	tr := e.startTracker()
	alice := e.newChatd("alice", tr.url)

	// A socket file left behind by a crashed daemon: nothing listens on it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: alice.sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if fi, err := os.Lstat(alice.sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("stale socket not in place: %v", err)
	}
	alice.start()
	alice.waitRegistered() // it answers on the path where the stale socket was

	t.Run("second daemon on a live socket", func(t *testing.T) {
		second := e.newChatd("carol", tr.url)
		second.sock = alice.sock
		second.start()
		if code := second.p.exitCode(); code == 0 {
			t.Fatalf("a second chatd on a live socket exited 0:\n%s", second.p.out)
		}
		checkChatdError(t, second.p.out.String(), "another chatd is running")
		if st, ok := alice.status(); !ok || st.Name != "alice" {
			t.Errorf("the first daemon lost its socket: status ok=%v name %q", ok, st.Name)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		other := e.newChatd("dave", tr.url)
		if err := os.WriteFile(other.sock, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		other.start()
		if code := other.p.exitCode(); code == 0 {
			t.Fatalf("chatd took over a regular file as its socket:\n%s", other.p.out)
		}
		checkChatdError(t, other.p.out.String(), "not a socket")
		if b, _ := os.ReadFile(other.sock); string(b) != "precious" {
			t.Error("chatd removed or changed a regular file at its socket path")
		}
	})
}

// checkChatdError checks that chatd said why it refused to start in one
// lower-case line, "chatd: ...", that mentions want.
func checkChatdError(t *testing.T, output, want string) {
	t.Helper()
	var errs []string
	for _, l := range strings.Split(output, "\n") {
		if strings.HasPrefix(l, "chatd: ") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("want one 'chatd: ' error line, got %d:\n%s", len(errs), output)
	}
	msg := strings.TrimPrefix(errs[0], "chatd: ")
	if msg == "" || strings.ToLower(msg[:1]) != msg[:1] || !strings.Contains(msg, want) {
		t.Errorf("error line %q: want a lower-case message mentioning %q", errs[0], want)
	}
	if !strings.HasSuffix(strings.TrimRight(output, "\n"), errs[0]) {
		t.Errorf("the error is not chatd's last word:\n%s", output)
	}
}

// chatd run by hand (no systemd, no LISTEN_FDS) makes its own control
// socket. Every other test depends on this; this one names the failure.
func TestChatdStartsWithoutSocketActivation(t *testing.T) {
	e := newEnv(t)
	tr := e.startTracker()
	alice := e.newChatd("alice", tr.url)
	alice.start()
	waitFor(t, "chatd to make its control socket or exit", func() bool {
		_, err := os.Stat(alice.sock)
		return err == nil || !alice.p.running()
	})
	if !alice.p.running() {
		t.Fatalf("chatd without socket activation exited (%v):\n%s", alice.p.err, alice.p.out)
	}
	alice.waitRegistered()
}
