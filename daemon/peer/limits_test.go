package peer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// refusedWith reports whether n heard a refusal whose reason contains want.
func refusedWith(n *node, want string) bool {
	for _, err := range n.h.refusals() {
		var bye *ByeError
		if errors.As(err, &bye) {
			if reason, ok := bye.Refusal(); ok && strings.Contains(reason, want) {
				return true
			}
		}
	}
	return false
}

// Strangers get a few sessions, not all of them: a contact still gets in
// while strangers hold theirs, and a refused stranger is told why.
func TestStrangerSessionsAreBounded(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice", func(c *Config) { c.MaxStrangerSessions = 2 })
	alice.trust.strangers = map[string]bool{}
	var strangers []*node
	for i := range 4 {
		name := fmt.Sprintf("stranger%d", i)
		alice.trust.strangers[name] = true
		strangers = append(strangers, newNode(t, dir, name))
	}
	for i, s := range strangers[:2] {
		s.send("alice", "hi")
		waitFor(t, fmt.Sprintf("stranger%d's message", i), func() bool { return len(alice.h.bodies(s.name)) == 1 })
	}
	for _, s := range strangers[2:] {
		s.send("alice", "hi")
	}
	for i, s := range strangers[2:] {
		waitFor(t, fmt.Sprintf("stranger%d to be told the stranger sessions are full", i+2), func() bool {
			return refusedWith(s, "not contacts")
		})
	}
	bob := newNode(t, dir, "bob")
	bob.send("alice", "a contact gets in")
	waitFor(t, "bob's message", func() bool { return len(alice.h.bodies("bob")) == 1 })
	for _, s := range strangers[2:] {
		if n := len(alice.h.bodies(s.name)); n != 0 {
			t.Errorf("%s over the bound delivered %d messages", s.name, n)
		}
	}
}

// One key under many names gets MaxSessionsPerKey sessions.
func TestSessionsPerKeyAreBounded(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice", func(c *Config) { c.MaxSessionsPerKey = 2 })
	first := newNode(t, dir, "mallory0")
	nodes := []*node{first}
	for i := 1; i < 3; i++ {
		nodes = append(nodes, newNodeWithIdentity(t, dir, fmt.Sprintf("mallory%d", i), first.id))
	}
	for _, n := range nodes[:2] {
		n.send("alice", "hi")
		waitFor(t, n.name+"'s message", func() bool { return len(alice.h.bodies(n.name)) == 1 })
	}
	nodes[2].send("alice", "hi")
	waitFor(t, "the third name to be refused", func() bool { return refusedWith(nodes[2], "this key") })
}

// Sessions and handshakes leave fdHeadroom descriptors free.
func TestSessionBoundKeepsFileDescriptorsFree(t *testing.T) {
	cfg := Config{MaxSessions: 1024, MaxStrangerSessions: 32, MaxSessionsPerKey: 2}
	for _, c := range []struct {
		nofile uint64
		want   int
	}{
		{1 << 20, 1024},
		{1024, 1024 - fdHeadroom - maxHandshakes},
		{300, 300 - fdHeadroom - maxHandshakes},
		{100, 1},
	} {
		l := newSessionLimits(cfg, c.nofile)
		if l.total != c.want || l.strangers > max(l.total/2, 1) {
			t.Errorf("RLIMIT_NOFILE %d: %d sessions (%d strangers), want %d", c.nofile, l.total, l.strangers, c.want)
		}
	}
}
