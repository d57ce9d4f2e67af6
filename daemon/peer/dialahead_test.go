package peer

import (
	"slices"
	"testing"
	"time"
)

// DialAhead brings a session up with nothing in the outbox yet; what is
// then stored and notified goes out on it, and nothing before.
func TestDialAheadThenSend(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob := newNode(t, dir, "alice"), newNode(t, dir, "bob")

	alice.m.DialAhead("bob")
	waitFor(t, "the session dialled ahead", func() bool { return sessionCount(alice, "bob") == 1 })
	if got := bob.h.bodies("alice"); len(got) != 0 {
		t.Fatalf("bob received %q before anything was stored", got)
	}
	alice.send("bob", "stored after the dial")
	waitFor(t, "bob to receive", func() bool { return len(bob.h.bodies("alice")) == 1 })
	if got := bob.h.bodies("alice"); !slices.Equal(got, []string{"stored after the dial"}) {
		t.Errorf("bob received %q", got)
	}
	waitFor(t, "the dialler to leave", func() bool { return !alice.m.dialerRunning("bob") })
}

// A dial ahead that fails is not retried while the outbox stays empty (the
// message it was for was not stored after all).
func TestDialAheadFailureNotRetriedWithoutMessages(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice")
	gone := newNodeNoRun(t, dir, "bob") // listed, but nobody answers
	gone.m.Close()

	alice.m.DialAhead("bob")
	waitFor(t, "the dialler to give up", func() bool { return !alice.m.dialerRunning("bob") })
	time.Sleep(50 * time.Millisecond) // several BackoffMin
	if alice.m.dialerRunning("bob") {
		t.Fatal("a dial ahead with nothing to send is being retried")
	}
}
