//go:build linux

package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// A receiver whose disk is full refuses the sender's batch with a reason
// (a Bye): the sender reports it as a "refused" event and dials again
// after the refusal delay, not every backoff_min with the same batch.
// Once there is room the message arrives, once.
func TestDiskFullRefusesTheSender(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a small tmpfs as bob's data directory")
	}
	checkGoroutines(t)
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=8m,mode=0700"); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(disk, 0); err != nil {
			t.Errorf("unmount %s: %v", disk, err)
		}
	})
	tr := trackertest.New(t)
	// backoff_max above the refusal delay: the delay is the lower of the two.
	cfg := testConfig(tr, "alice", t.TempDir())
	cfg.Peer.BackoffMax.Duration = time.Minute
	alice := startNodeConfig(t, cfg)
	bob := startNode(t, tr, "bob", filepath.Join(disk, "bob"))
	bob.add("alice")
	first := alice.send("bob", "before")
	waitFor(t, "the first message delivered", func() bool { return alice.state("bob", first) == store.Delivered })

	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	sessionsBefore := countSessions(t, alice, "bob")
	m := alice.send("bob", "while full")
	waitFor(t, "alice to hear bob's refusal", func() bool { return hasEvent(t, alice, EventRefused, "bob") })
	refusedAt := time.Now()
	evs, err := alice.d.Events(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == EventRefused && !strings.Contains(string(e.Data), "the recipient's disk is full") {
			t.Errorf("refusal event %s does not say why", e.Data)
		}
	}
	// With backoff_min at 20 ms alice would have dialled many times in
	// this second; the refusal delay is 10 s.
	time.Sleep(time.Second)
	if n := countSessions(t, alice, "bob") - sessionsBefore; n > 2 {
		t.Errorf("alice opened %d sessions to bob within %v of his refusal, want at most 2", n, time.Since(refusedAt).Round(time.Millisecond))
	}
	if st := alice.state("bob", m); st == store.Delivered {
		t.Fatal("delivered although bob's disk is full")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// A new message wakes alice's dialler before the refusal delay ends.
	m2 := alice.send("bob", "space again")
	waitFor(t, "delivered once there is room", func() bool {
		return alice.state("bob", m) == store.Delivered && alice.state("bob", m2) == store.Delivered
	})
	want(t, bob.bodies("alice"), "in:before", "in:while full", "in:space again")
}

// countSessions counts the sessions n had with peer (its presence events
// saying online).
func countSessions(t *testing.T, n *node, peer string) int {
	t.Helper()
	evs, err := n.d.Events(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for _, e := range evs {
		if e.Type == "presence" && e.Peer == peer && strings.Contains(string(e.Data), `"online":true`) {
			c++
		}
	}
	return c
}

// fillDisk appends to path until its file system has no byte left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10, 1} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); errors.Is(err, syscall.ENOSPC) {
				break
			} else if err != nil {
				t.Fatalf("fill %s: %v", path, err)
			}
		}
	}
}
