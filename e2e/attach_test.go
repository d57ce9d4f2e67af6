package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// attach with stdin and stdout not terminals: the scripting mode. Lines
// on stdin are sent; messages from the peer are printed as they arrive.
func TestAttachPipe(t *testing.T) {
	e, alice, bob := pair(t)
	bob.must("send", "--wait", "alice", "before attach")

	cmd := exec.Command(bin("chatctl"), "--socket", alice.sock, "attach", "bob")
	cmd.Env = e.env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := e.startCmd("chatctl attach bob", cmd)
	waitOutput(t, p, "talking to bob")
	waitOutput(t, p, "← bob: before attach") // the recent history comes first

	bob.must("send", "alice", "live from bob")
	waitOutput(t, p, "← bob: live from bob")

	if _, err := stdin.Write([]byte("typed into attach\n//starts with a slash\n")); err != nil {
		t.Fatal(err)
	}
	bob.waitBodies("alice", []string{"out:before attach", "out:live from bob", "in:typed into attach", "in:/starts with a slash"})
	alice.waitAllDelivered("bob")
	stdin.Close() // end of input ends attach
	if code := p.exitCode(); code != 0 {
		t.Fatalf("attach exited %d at end of input\n%s", code, p.out)
	}
	if n := strings.Count(p.out.String(), "live from bob"); n != 1 {
		t.Errorf("bob's message shown %d times, want once:\n%s", n, p.out)
	}
}

// waitOutput waits until the process has printed a line containing s.
func waitOutput(t *testing.T, p *proc, s string) {
	t.Helper()
	waitFor(t, p.name+" prints "+s, func() bool {
		if !p.running() && !strings.Contains(p.out.String(), s) {
			t.Fatalf("%s exited (%v) without printing %q:\n%s", p.name, p.err, s, p.out)
		}
		return strings.Contains(p.out.String(), s)
	})
}
