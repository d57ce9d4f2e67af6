package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// tmuxTerm is a real terminal for chatctl: a detached tmux session on a
// tmux server of its own (-L), so nothing touches the user's tmux.
type tmuxTerm struct {
	t      *testing.T
	server string // -L socket name, unique per terminal
	name   string // session name

	statusFile string // the program's exit status is written here
}

var tmuxCount atomic.Int64

// newTmux runs argv in the e's environment inside a 120x30 tmux pane
// that stays around after the program exits, so its exit status can be
// read.
func newTmux(t *testing.T, e *testEnv, argv ...string) *tmuxTerm {
	t.Helper()
	lookPath(t, "tmux", "the terminal tests drive chatctl through tmux")
	name := fmt.Sprintf("e2e-%d-%d", os.Getpid(), tmuxCount.Add(1))
	m := &tmuxTerm{t: t, server: name, name: name}
	m.statusFile = filepath.Join(t.TempDir(), "exit-status")
	words := []string{"env", "-i", "PATH=" + os.Getenv("PATH"), "TERM=tmux-256color", "LANG=C.UTF-8"}
	words = append(words, e.userEnv()...)
	words = append(words, "/bin/sh", "-c", `"$@"; echo "$?" >"$0"`, m.statusFile)
	words = append(words, argv...)
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- tmux screen %s ---\n%s", m.name, m.captureQuiet())
		}
		// Only the server this test made, by its unique socket name.
		exec.Command("tmux", "-L", m.server, "kill-session", "-t", m.name).Run()
		exec.Command("tmux", "-L", m.server, "kill-server").Run()
	})
	m.run("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "120", "-y", "30", strings.Join(words, " "))
	m.run("set-option", "-t", name, "remain-on-exit", "on")
	return m
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (m *tmuxTerm) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", m.server}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %q: %v\n%s", args, err, out)
	}
	return string(out)
}

func (m *tmuxTerm) captureQuiet() string {
	out, _ := exec.Command("tmux", "-L", m.server, "capture-pane", "-p", "-t", m.name).CombinedOutput()
	return string(out)
}

// screen is what the pane shows now, trailing blank lines dropped.
func (m *tmuxTerm) screen() string {
	m.t.Helper()
	return strings.TrimRight(m.run("capture-pane", "-p", "-t", m.name), "\n ")
}

// lastLine is the bottom non-blank line: where the prompt lives.
func lastLine(screen string) string {
	lines := strings.Split(screen, "\n")
	return strings.TrimRight(lines[len(lines)-1], " ")
}

// typeText types s without pressing Enter.
func (m *tmuxTerm) typeText(s string) { m.t.Helper(); m.run("send-keys", "-t", m.name, "-l", s) }

// press sends named keys: Enter, Tab, C-d, ...
func (m *tmuxTerm) press(keys ...string) {
	m.t.Helper()
	m.run(append([]string{"send-keys", "-t", m.name}, keys...)...)
}

func (m *tmuxTerm) waitScreen(what string, cond func(screen string) bool) string {
	m.t.Helper()
	var s string
	waitFor(m.t, what+" on the terminal", func() bool {
		s = m.screen()
		return cond(s)
	})
	return s
}

// exitStatus waits for the program in the pane to end and returns its
// exit status as the shell reports it (128+N for signal N). tmux's own
// #{pane_dead_status} is not used: tmux 3.3 sometimes never fills it in.
func (m *tmuxTerm) exitStatus() string {
	m.t.Helper()
	var st []byte
	waitFor(m.t, "the program in tmux to exit", func() bool {
		st, _ = os.ReadFile(m.statusFile)
		return bytes.HasSuffix(st, []byte("\n"))
	})
	return strings.TrimSpace(string(st))
}

// attach on a terminal: an incoming message appears above the line being
// typed and leaves it intact; the sent message gets its delivered mark.
func TestAttachTerminal(t *testing.T) {
	e, alice, bob := pair(t)
	term := newTmux(t, e, bin("chatctl"), "--socket", alice.sock, "attach", "bob")
	term.waitScreen("the attach prompt", func(s string) bool { return lastLine(s) == "bob>" || lastLine(s) == "bob> " })

	term.typeText("half typed")
	term.waitScreen("the half-typed line", func(s string) bool { return lastLine(s) == "bob> half typed" })
	bob.must("send", "--wait", "alice", "hello from bob")
	s := term.waitScreen("bob's message above the intact half-typed line", func(s string) bool {
		return strings.Contains(s, "← bob: hello from bob") && lastLine(s) == "bob> half typed"
	})
	if n := strings.Count(s, "hello from bob"); n != 1 {
		t.Errorf("bob's message is on screen %d times:\n%s", n, s)
	}

	term.typeText(" and finished")
	term.press("Enter")
	bob.waitBodies("alice", []string{"out:hello from bob", "in:half typed and finished"})
	delivered := regexp.MustCompile(`→ bob: half typed and finished ✓|✓ bob got: half typed and finished`)
	term.waitScreen("the delivered mark on our message", delivered.MatchString)

	term.typeText("/quit")
	term.press("Enter")
	if st := term.exitStatus(); st != "0" {
		t.Errorf("attach exited with status %s after /quit", st)
	}
}

// Bare chatctl is a shell: tab completion of commands, the commands
// themselves, Ctrl-D to leave, and a history file in XDG_STATE_HOME.
func TestShellTerminal(t *testing.T) {
	e, alice, bob := pair(t)
	alice.must("send", "--wait", "bob", "for the shell to show")
	_, bobFpr := whoami(t, bob)

	term := newTmux(t, e, bin("chatctl"), "--socket", alice.sock)
	term.waitScreen("the shell prompt", func(s string) bool { return strings.HasPrefix(lastLine(s), "chatctl>") })
	term.typeText("hist")
	term.press("Tab")
	term.waitScreen("hist completed to history", func(s string) bool {
		return strings.TrimRight(lastLine(s), " ") == "chatctl> history"
	})
	term.typeText(" bob")
	term.press("Enter")
	term.waitScreen("the history command's output", func(s string) bool {
		return strings.Contains(s, "→ bob: for the shell to show ✓")
	})
	term.typeText("contacts")
	term.press("Enter")
	term.waitScreen("the contacts table", func(s string) bool {
		return regexp.MustCompile(`(?m)^bob\s+` + regexp.QuoteMeta(bobFpr) + `\s+no\b`).MatchString(s)
	})
	term.press("C-d")
	if st := term.exitStatus(); st != "0" {
		t.Errorf("shell exited with status %s on Ctrl-D", st)
	}
	hist, err := os.ReadFile(filepath.Join(e.home, "state", "chatd", "chatctl_history"))
	if err != nil || !strings.Contains(string(hist), "contacts") {
		t.Errorf("shell history file in XDG_STATE_HOME: %v, %q", err, hist)
	}
}
