package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

var chatctl string // the binary under test, built once in TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chatctl-test")
	if err != nil {
		panic(err)
	}
	chatctl = filepath.Join(dir, "chatctl")
	build := exec.Command("go", "build", "-o", chatctl, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build chatctl: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon starts a fake chatd for alice, who knows bob.
func daemon(t *testing.T) (*controltest.Backend, string) {
	t.Helper()
	controltest.CheckGoroutines(t)
	b := controltest.NewBackend("alice")
	b.AddUser("bob")
	return b, controltest.Serve(t, b)
}

type result struct {
	stdout, stderr string
	code           int
}

func command(sock string, args ...string) *exec.Cmd {
	cmd := exec.Command(chatctl, args...)
	cmd.Env = append(os.Environ(), "CHATD_SOCKET="+sock, "XDG_STATE_HOME="+filepath.Dir(sock))
	return cmd
}

func chatctlRun(t *testing.T, sock, stdin string, args ...string) result {
	t.Helper()
	cmd := command(sock, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run chatctl %v: %v", args, err)
	}
	return result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

var idLine = regexp.MustCompile(`^[0-9a-f]{32}\n$`)

func TestSendPrintsID(t *testing.T) {
	b, sock := daemon(t)
	r := chatctlRun(t, sock, "", "send", "bob", "hello", "there").want(t, 0)
	if !idLine.MatchString(r.stdout) {
		t.Fatalf("send printed %q, want a message ID", r.stdout)
	}
	hist, _ := b.History(context.Background(), "bob", 10, 0)
	if len(hist) != 1 || hist[0].Body != "hello there" || hist[0].ID+"\n" != r.stdout {
		t.Fatalf("daemon has %+v", hist)
	}
}

func TestHistoryJSON(t *testing.T) {
	b, sock := daemon(t)
	chatctlRun(t, sock, "", "send", "bob", "hi").want(t, 0)
	b.Receive("bob", "hi back")
	r := chatctlRun(t, sock, "", "history", "bob", "--json").want(t, 0)
	var ms []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
		t.Fatalf("history --json is not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(ms) != 2 {
		t.Fatalf("got %d messages", len(ms))
	}
	for i, dir := range []string{"out", "in"} {
		m := ms[i]
		for _, f := range []string{"id", "peer", "direction", "body", "sent_at", "state"} {
			if _, ok := m[f]; !ok {
				t.Errorf("message %d has no %q", i, f)
			}
		}
		if m["direction"] != dir || m["peer"] != "bob" {
			t.Errorf("message %d: %v", i, m)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["sent_at"].(string)); err != nil {
			t.Errorf("sent_at: %v", err)
		}
	}
	// The global flag works too, and the human form shows both directions.
	chatctlRun(t, sock, "", "--json", "history", "bob").want(t, 0)
	human := chatctlRun(t, sock, "", "history", "bob", "--limit", "1").want(t, 0).stdout
	if !strings.Contains(human, "← bob: hi back") || strings.Contains(human, "→") {
		t.Errorf("history --limit 1: %q", human)
	}
}

func TestContactsWorkflow(t *testing.T) {
	_, sock := daemon(t)
	if r := chatctlRun(t, sock, "", "add", "bob").want(t, 0); !strings.Contains(r.stdout, controltest.Fingerprint("bob")) {
		t.Errorf("add does not show the fingerprint: %q", r.stdout)
	}
	r := chatctlRun(t, sock, "", "contacts").want(t, 0)
	if !strings.Contains(r.stdout, "bob") || !strings.Contains(r.stdout, "FINGERPRINT") {
		t.Errorf("contacts: %q", r.stdout)
	}
	r = chatctlRun(t, sock, "", "verify", "bob", "0000-0000").want(t, 1)
	if !strings.HasPrefix(r.stderr, "chatctl: fingerprint does not match") || !strings.Contains(r.stderr, "\nhint: ") {
		t.Errorf("wrong fingerprint: %q", r.stderr)
	}
	chatctlRun(t, sock, "", "verify", "bob", controltest.Fingerprint("bob")).want(t, 0)
	var cs []api.Contact
	if err := json.Unmarshal([]byte(chatctlRun(t, sock, "", "contacts", "--json").want(t, 0).stdout), &cs); err != nil || len(cs) != 1 || !cs[0].Verified {
		t.Fatalf("contacts --json: %v %+v", err, cs)
	}
	chatctlRun(t, sock, "", "remove", "bob").want(t, 0)
	chatctlRun(t, sock, "", "remove", "bob").want(t, 1)
}

func TestWhoami(t *testing.T) {
	_, sock := daemon(t)
	r := chatctlRun(t, sock, "", "whoami").want(t, 0)
	if !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, controltest.Fingerprint("alice")) {
		t.Errorf("whoami: %q", r.stdout)
	}
	var who struct{ Name, Fingerprint string }
	if err := json.Unmarshal([]byte(chatctlRun(t, sock, "", "whoami", "--json").want(t, 0).stdout), &who); err != nil || who.Name != "alice" {
		t.Errorf("whoami --json: %v %+v", err, who)
	}
	if r := chatctlRun(t, sock, "", "status").want(t, 0); !strings.Contains(r.stdout, "tracker:") {
		t.Errorf("status: %q", r.stdout)
	}
}

func TestDaemonNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "control.sock")
	r := chatctlRun(t, sock, "", "send", "bob", "hi").want(t, 3)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "chatctl: chatd is not running") ||
		lines[1] != "hint: start it with 'systemctl --user start chatd'" {
		t.Errorf("stderr: %q", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q", r.stdout)
	}
}

func TestSocketFlagOverridesEnvironment(t *testing.T) {
	_, sock := daemon(t)
	cmd := command(filepath.Join(t.TempDir(), "nothing.sock"), "--socket", sock, "whoami")
	if out, err := cmd.Output(); err != nil || !strings.HasPrefix(string(out), "alice") {
		t.Fatalf("--socket: %v %q", err, out)
	}
}

func TestUnknownUser(t *testing.T) {
	_, sock := daemon(t)
	r := chatctlRun(t, sock, "", "send", "bobb", "hi").want(t, 1)
	if r.stderr != "chatctl: no user \"bobb\" on the tracker\nhint: check the spelling, and that they have registered (run chatd once)\n" {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	_, sock := daemon(t)
	for _, args := range [][]string{
		{"send", "bob"},
		{"frobnicate"},
		{"history", "bob", "--limit", "x"},
		{"history", "bob", "--wait"},
		{"contacts", "extra"},
		{"--nosuchflag", "status"},
		{"send", "--timeout", "soon", "bob", "hi"},
	} {
		r := chatctlRun(t, sock, "", args...).want(t, 2)
		if !strings.HasPrefix(r.stderr, "chatctl: ") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("%v: stderr %q", args, r.stderr)
		}
	}
	if r := chatctlRun(t, sock, "", "help").want(t, 0); !strings.Contains(r.stdout, "exit codes") {
		t.Errorf("help does not document exit codes: %q", r.stdout)
	}
}

func TestSendWaitDelivered(t *testing.T) {
	b, sock := daemon(t)
	cmd := command(sock, "send", "--wait", "bob", "are you there")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id, err := bufio.NewReader(stdout).ReadString('\n') // printed before waiting
	if err != nil || !idLine.MatchString(id) {
		t.Fatalf("first line %q, %v", id, err)
	}
	b.Receive("bob", "something else first")
	if err := b.Deliver("bob", strings.TrimSpace(id)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("send --wait after delivery: %v", err)
	}
}

func TestSendWaitDeliveredJSON(t *testing.T) {
	b, sock := daemon(t)
	b.SetAutoDeliver(true)
	r := chatctlRun(t, sock, "", "send", "--wait", "--json", "bob", "hi").want(t, 0)
	var m api.Message
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.State != api.StateDelivered {
		t.Fatalf("send --wait --json: %v %q", err, r.stdout)
	}
}

// A peer whose chatd refuses our messages for now (a quota): send --wait
// prints its reason and exits 4, as for not delivered (it stays queued).
func TestSendWaitRefused(t *testing.T) {
	b, sock := daemon(t)
	cmd := command(sock, "send", "--wait", "bob", "one too many")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil { // the ID: waiting now
		t.Fatal(err)
	}
	b.Emit(api.Event{Type: api.EventRefused, Peer: "bob",
		Detail: "bob's chatd refused our messages: the daily limit of 1 MiB from you is used up; messages wait until 2026-12-03 00:00 UTC"})
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("send --wait on a refusal: %v, want exit 4", err)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "chatctl: bob's chatd refused our messages: the daily limit") || !strings.Contains(got, "stays queued") {
		t.Errorf("stderr: %q", got)
	}
}

func TestSendWaitTimeout(t *testing.T) {
	_, sock := daemon(t)
	r := chatctlRun(t, sock, "", "send", "--wait", "--timeout", "300ms", "bob", "hi").want(t, 4)
	id := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(r.stderr, "chatctl: message "+id+" not delivered yet\nhint: ") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestAttachFromPipe(t *testing.T) {
	b, sock := daemon(t)
	b.Receive("bob", "earlier")
	cmd := command(sock, "attach", "bob")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	waitFor := func(substr string) {
		t.Helper()
		for lines.Scan() {
			if strings.Contains(lines.Text(), substr) {
				return
			}
		}
		t.Fatalf("attach never printed %q", substr)
	}
	waitFor("← bob: earlier") // the recent history comes first
	io.WriteString(stdin, "hi bob\n")
	waitFor("→ bob: hi bob …")
	b.Receive("bob", "hi alice")
	waitFor("← bob: hi alice")
	hist, _ := b.History(context.Background(), "bob", 10, 0)
	if err := b.Deliver("bob", hist[1].ID); err != nil {
		t.Fatal(err)
	}
	waitFor("✓ bob got: hi bob")
	io.WriteString(stdin, "//not a command\n/quit\nnever sent\n")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("attach: %v", err)
	}
	hist, _ = b.History(context.Background(), "bob", 10, 0)
	if len(hist) != 4 || hist[3].Body != "/not a command" {
		t.Errorf("after /quit the daemon has %d messages, last %q", len(hist), hist[len(hist)-1].Body)
	}
}

func TestShellFromPipe(t *testing.T) {
	_, sock := daemon(t)
	r := chatctlRun(t, sock, "whoami\nsend bobb 'x y'\nhistory bob --json\nquit\nwhoami\n")
	if !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "[]") {
		t.Errorf("shell stdout: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, `no user "bobb"`) {
		t.Errorf("shell stderr: %q", r.stderr)
	}
	if strings.Count(r.stdout, "fingerprint:") != 1 {
		t.Errorf("shell did not stop at quit: %q", r.stdout)
	}
	hist := filepath.Join(filepath.Dir(sock), "chatd", "chatctl_history")
	if fi, err := os.Stat(hist); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("history file: %v %v", fi, err)
	}
}

// unregister asks first; without a terminal to ask on it wants --yes, and
// refusing changes nothing.
func TestUnregister(t *testing.T) {
	b, sock := daemon(t)
	r := chatctlRun(t, sock, "y\n", "unregister").want(t, 2)
	if !strings.Contains(r.stderr, "--yes") || !b.Registered() {
		t.Fatalf("unregister from a pipe without --yes: stderr %q, registered %v", r.stderr, b.Registered())
	}
	r = chatctlRun(t, sock, "", "unregister", "--yes").want(t, 0)
	if !strings.HasPrefix(r.stdout, "deleted alice from ") || b.Registered() {
		t.Fatalf("unregister --yes: stdout %q, registered %v", r.stdout, b.Registered())
	}
	var res struct{ Name, Tracker string }
	r = chatctlRun(t, sock, "", "unregister", "--yes", "--json").want(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Name != "alice" {
		t.Fatalf("unregister --json: %v %q", err, r.stdout)
	}
}
