//go:build linux

package daemon

import (
	"github.com/p2pchat/p2pchat/internal/testenv"

	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	testenv.FillDisk(t, filler)
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
	testenv.FillDisk(t, filler)
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
// configuration. It needs root (see testenv.Tmpfs).
func fullDiskPair(t *testing.T, mod func(*config.Config)) (alice, bob *node, disk string) {
	t.Helper()
	disk = testenv.Tmpfs(t, t.TempDir(), 8<<20)
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
