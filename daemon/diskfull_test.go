//go:build linux

package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// A receiver whose disk is full refuses the sender's batch with a reason
// (a Bye): the sender reports it as a "refused" event and dials again
// after the refusal delay, not every backoff_min with the same batch.
// Once there is room the message arrives, once.
func TestDiskFullRefusesTheSender(t *testing.T) {
	checkGoroutines(t)
	alice, bob, disk := fullDiskPair(t, nil)
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

// A batch refused for a full disk, again and again, does not count
// against the sender's daily bytes: once there is room it is stored, not
// refused for a quota it never used.
func TestDiskFullRefusalsDoNotUseUpTheQuota(t *testing.T) {
	checkGoroutines(t)
	alice, bob, disk := fullDiskPair(t, func(c *config.Config) { c.Limits.ContactDailyBytes = 1000 })
	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	// Each new message wakes alice's dialler, which sends bob the whole
	// pending batch again: 300, 600, 900 bytes refused, 1,800 in all.
	var sent []store.Message
	for i := range 3 {
		before := countSessions(t, alice, "bob")
		sent = append(sent, alice.send("bob", fmt.Sprintf("%d%s", i, strings.Repeat("x", 299))))
		waitFor(t, "bob to refuse another batch", func() bool { return countSessions(t, alice, "bob") > before })
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	sent = append(sent, alice.send("bob", "space again"))
	waitFor(t, "all delivered once there is room", func() bool {
		for _, m := range sent {
			if alice.state("bob", m) != store.Delivered {
				return false
			}
		}
		return true
	})
	if got := len(bob.bodies("alice")); got != len(sent) {
		t.Fatalf("bob has %d messages from alice, want %d", got, len(sent))
	}
}

// fullDiskPair starts alice and bob, bob's data on a small tmpfs (disk)
// that the test fills, bob with alice as a contact; mod changes bob's
// configuration. It skips unless run as root.
func fullDiskPair(t *testing.T, mod func(*config.Config)) (alice, bob *node, disk string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a small tmpfs as bob's data directory")
	}
	disk = t.TempDir()
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
	alice = startNodeConfig(t, cfg)
	cfg = testConfig(tr, "bob", filepath.Join(disk, "bob"))
	if mod != nil {
		mod(&cfg)
	}
	bob = startNodeConfig(t, cfg)
	bob.add("alice")
	return alice, bob, disk
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
