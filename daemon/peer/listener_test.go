package peer

import (
	"net"
	"testing"
)

// A listener handed in is served as is: no port is chosen and then bound
// later, so no other program can take it in between.
func TestInjectedListener(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	alice := newNode(t, dir, "alice", func(c *Config) { c.Listener = ln })
	if alice.m.Addr() != ln.Addr() {
		t.Fatalf("manager serves %v, the injected listener is %v", alice.m.Addr(), ln.Addr())
	}
	bob := newNode(t, dir, "bob")
	alice.send("bob", "dialled by the manager with the injected listener")
	waitFor(t, "bob to receive", func() bool { return len(bob.h.bodies("alice")) == 1 })
	carol := newNode(t, dir, "carol")
	carol.send("alice", "accepted on the injected listener")
	waitFor(t, "alice to receive", func() bool { return len(alice.h.bodies("carol")) == 1 })
}
