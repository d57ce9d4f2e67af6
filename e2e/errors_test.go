package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// Exit codes from chatctl's documentation (ctl/repl).
const (
	exitError        = 1
	exitUsage        = 2
	exitNotRunning   = 3
	exitNotDelivered = 4
)

func TestCLIErrors(t *testing.T) {
	e, alice, _ := pair(t)

	t.Run("no daemon", func(t *testing.T) {
		r := e.ctl(filepath.Join(e.sockDir, "nobody-home.sock"), "", "status")
		if r.code != exitNotRunning {
			t.Fatalf("exit %d, want %d (daemon not running)\n%s", r.code, exitNotRunning, r.stderr)
		}
		checkErrorLines(t, r, "not running")
		if !strings.Contains(r.stderr, "\nhint: ") {
			t.Errorf("no hint on how to start chatd:\n%s", r.stderr)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		r := alice.ctl("send", "nobody", "hi")
		if r.code != exitError {
			t.Fatalf("exit %d, want %d\n%s", r.code, exitError, r.stderr)
		}
		checkErrorLines(t, r, "unknown user")
		if !strings.Contains(r.stderr, "\nhint: ") {
			t.Errorf("no hint:\n%s", r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("a failed send printed %q on stdout", r.stdout)
		}
	})
	t.Run("too large", func(t *testing.T) {
		r := alice.ctl("send", "bob", strings.Repeat("x", 64<<10+1))
		if r.code != exitError {
			t.Fatalf("exit %d, want %d\n%s", r.code, exitError, r.stderr)
		}
		checkErrorLines(t, r, "limit")
		if !strings.Contains(r.stderr, "\nhint: ") {
			t.Errorf("no hint:\n%s", r.stderr)
		}
		// The largest allowed body still goes.
		alice.must("send", "bob", strings.Repeat("y", 64<<10))
	})
	for _, args := range [][]string{
		{"frobnicate"},
		{"send", "bob"},
		{"history"},
		{"send", "--timeout", "soon", "bob", "hi"},
		{"contacts", "extra"},
		{"--nosuchflag", "status"},
	} {
		t.Run("usage "+strings.Join(args, " "), func(t *testing.T) {
			r := alice.ctl(args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d (usage)\n%s", r.code, exitUsage, r.stderr)
			}
			checkErrorLines(t, r, "")
		})
	}
	if got := alice.bodies("bob"); len(got) != 1 {
		t.Errorf("failed commands changed the conversation: %d messages, want the one 64 KiB message", len(got))
	}
}
