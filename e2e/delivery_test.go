package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// Never lost, never twice: messages written while the peer is down wait
// in the outbox, survive a crash of the sender, and arrive exactly once
// and in order.
func TestDeliveryAcrossStoppedAndKilledDaemons(t *testing.T) {
	_, alice, bob := pair(t)
	alice.must("send", "--wait", "bob", "hello")
	want := []string{"hello"}

	bob.stop()
	want = append(want, sendNumbered(t, alice, "a", 20)...)
	for _, m := range alice.history("bob")[1:] {
		if m.State == "delivered" {
			t.Fatalf("message %q delivered while bob was stopped", m.Body)
		}
	}
	bob.restart()
	bob.waitBodies("alice", in(want))
	alice.waitAllDelivered("bob")

	// A crash with undelivered messages in the outbox: SIGKILL gives chatd
	// no chance to flush or close anything.
	bob.stop()
	want = append(want, sendNumbered(t, alice, "b", 20)...)
	alice.kill()
	if alice.p.cmd.ProcessState.ExitCode() == 0 {
		t.Fatal("SIGKILLed chatd reports exit 0")
	}
	alice.restart() // over the socket the killed process left behind
	bob.restart()
	bob.waitBodies("alice", in(want))
	alice.waitAllDelivered("bob")
	alice.waitBodies("bob", out(want))
	// Still exactly once after everything has settled and more traffic.
	bob.must("send", "--wait", "alice", "got them all")
	want = append(in(want), "out:got them all")
	bob.waitBodies("alice", want)
}

// sendNumbered sends n messages and returns their bodies in order.
func sendNumbered(t *testing.T, from *chatd, prefix string, n int) []string {
	t.Helper()
	var bodies []string
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf("%s %02d", prefix, i)
		from.must("send", "bob", body)
		bodies = append(bodies, body)
	}
	return bodies
}

func in(bodies []string) []string  { return prefixed("in:", bodies) }
func out(bodies []string) []string { return prefixed("out:", bodies) }

func prefixed(p string, bodies []string) []string {
	r := make([]string, len(bodies))
	for i, b := range bodies {
		if strings.HasPrefix(b, "in:") || strings.HasPrefix(b, "out:") {
			r[i] = b
			continue
		}
		r[i] = p + b
	}
	return r
}

func TestSendWaitTimesOutThenDelivers(t *testing.T) {
	_, alice, bob := pair(t)
	alice.must("send", "--wait", "bob", "first")
	bob.stop()

	r := alice.ctl("send", "--wait", "--timeout", "300ms", "bob", "while you were away")
	if r.code != exitNotDelivered {
		t.Fatalf("send --wait to a stopped peer: exit %d, want %d (not delivered)\n%s%s", r.code, exitNotDelivered, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if !hexID.MatchString(id) {
		t.Errorf("send --wait printed %q before timing out, want the message ID", r.stdout)
	}
	checkErrorLines(t, r, "not delivered")
	if st := stateOf(t, alice.history("bob"), id); st == "delivered" {
		t.Fatalf("state %q after a timed-out wait", st)
	}

	bob.restart()
	bob.waitBodies("alice", []string{"in:first", "in:while you were away"})
	alice.waitAllDelivered("bob")
}
