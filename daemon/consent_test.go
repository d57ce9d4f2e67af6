package daemon

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/daemon/wire"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func requestBodies(t testing.TB, n *node, from string) []string {
	t.Helper()
	rs, err := n.d.Requests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		if r.Name == from {
			for _, m := range r.Messages {
				out = append(out, string(m.Body))
			}
		}
	}
	return out
}

func isContact(t testing.TB, n *node, name string) bool {
	t.Helper()
	_, err := n.d.store.Contact(context.Background(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// Finding 2 of the security review: any registered name's messages landed
// in the history and pinned it. Now they are a request until the user
// accepts; accepting moves them into the history in order.
func TestStrangerMessagesWaitForConsent(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob := startNode(t, tr, "bob", t.TempDir())
	m1 := alice.send("bob", "hi bob, it is alice")
	m2 := alice.send("bob", "from the conference")
	waitFor(t, "bob to hold alice's request", func() bool { return len(requestBodies(t, bob, "alice")) == 2 })
	// Stored, so acknowledged: alice's chatd has nothing left to resend.
	waitFor(t, "alice sees delivered", func() bool {
		return alice.state("bob", m1) == store.Delivered && alice.state("bob", m2) == store.Delivered
	})
	if h := bob.bodies("alice"); len(h) != 0 || isContact(t, bob, "alice") {
		t.Fatalf("a stranger's messages reached the history (%v) or the contacts", h)
	}
	if hasEvent(t, bob, store.EventMessage, "alice") {
		t.Fatal("a request produced a message event (attach would show it)")
	}
	if _, err := bob.d.AcceptRequest(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	want(t, bob.bodies("alice"), "in:hi bob, it is alice", "in:from the conference")
	if !isContact(t, bob, "alice") || len(requestBodies(t, bob, "alice")) != 0 {
		t.Fatal("accept did not make alice a contact, or left the request")
	}
	bob.send("alice", "hi alice")
	waitFor(t, "alice receives the reply", func() bool { return len(alice.bodies("bob")) == 3 })
	alice.send("bob", "now we talk")
	waitFor(t, "bob receives into the history", func() bool { return len(bob.bodies("alice")) == 4 })
}

// A blocked key is refused at the handshake, without a tracker lookup,
// under its own name and under any other.
func TestBlockedKeyIsRefusedUnderAnyName(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	bob := startNode(t, tr, "bob", t.TempDir())
	malDir := t.TempDir()
	mallory := startNode(t, tr, "mallory", malDir)
	mallory.send("bob", "buy now")
	waitFor(t, "mallory's request", func() bool { return len(requestBodies(t, bob, "mallory")) == 1 })
	if _, err := bob.d.Block(context.Background(), "mallory"); err != nil {
		t.Fatal(err)
	}
	if len(requestBodies(t, bob, "mallory")) != 0 {
		t.Fatal("block kept the request")
	}
	ct := &countingTransport{next: http.DefaultTransport}
	if bob.d.tracker.HTTP.Transport != nil {
		ct.next = bob.d.tracker.HTTP.Transport
	}
	bob.d.tracker.HTTP.Transport = ct

	// The same key under a new name.
	twinDir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(malDir, identity.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(twinDir, identity.KeyFileName), key, 0o600); err != nil {
		t.Fatal(err)
	}
	twin := startNode(t, tr, "mallory2", twinDir)
	sent := []store.Message{mallory.send("bob", "buy now!!"), twin.send("bob", "new name, same key")}
	// Each is refused at least twice (the first try and a retry).
	waitFor(t, "bob to refuse the key six times", func() bool { return bob.d.blockedRefusals.Load() >= 6 })
	for _, n := range []string{"mallory", "mallory2"} {
		if got := requestBodies(t, bob, n); len(got) != 0 {
			t.Errorf("%s's messages were kept: %v", n, got)
		}
	}
	if n := ct.lookups.Load(); n != 0 {
		t.Errorf("a blocked key cost %d tracker lookups", n)
	}
	if st := mallory.state("bob", sent[0]); st == store.Delivered {
		t.Error("mallory sees delivered")
	}
	// Unblocked, the key may ask again.
	if err := bob.d.Unblock(context.Background(), "mallory"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mallory's request after unblock", func() bool { return len(requestBodies(t, bob, "mallory")) == 1 })
}

// A contact the user removed does not come back by sending: what it sends
// next is a request.
func TestRemovedContactStaysRemoved(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob := startNode(t, tr, "bob", t.TempDir())
	bob.add("alice")
	alice.send("bob", "as a contact")
	waitFor(t, "bob receives", func() bool { return len(bob.bodies("alice")) == 1 })
	if err := bob.d.RemoveContact(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	alice.send("bob", "after removal")
	waitFor(t, "the new message to be a request", func() bool { return len(requestBodies(t, bob, "alice")) == 1 })
	if isContact(t, bob, "alice") {
		t.Fatal("the removed contact was pinned again")
	}
	want(t, bob.bodies("alice"), "in:as a contact")
}

// A peer over its daily bytes is refused with a reason its user sees;
// its messages stay queued.
func TestDailyQuotaRefusesWithAReason(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	cfg := testConfig(tr, "bob", t.TempDir())
	cfg.Limits.StrangerDailyBytes = 100
	bob := startNodeConfig(t, cfg)
	alice := startNode(t, tr, "alice", t.TempDir())
	for i := range 2 {
		m := alice.send("bob", fmt.Sprintf("%02d %s", i, strings.Repeat("x", 57))) // 60 bytes
		waitFor(t, "delivered", func() bool { return alice.state("bob", m) == store.Delivered })
	}
	over := alice.send("bob", "one too many")
	waitFor(t, "alice to hear the refusal", func() bool { return hasEvent(t, alice, EventRefused, "bob") })
	evs, _ := alice.d.Events(context.Background(), 0, 1000)
	for _, e := range evs {
		if e.Type == EventRefused && !strings.Contains(string(e.Data), "daily limit of 100 B") {
			t.Errorf("refusal event %s does not say why", e.Data)
		}
	}
	if st := alice.state("bob", over); st == store.Delivered {
		t.Fatal("the message over the quota was delivered")
	}
	if got := requestBodies(t, bob, "alice"); len(got) != 2 {
		t.Fatalf("bob kept %d messages, want the 2 within the quota", len(got))
	}
}

// The rate: a stranger's batch beyond the burst waits for tokens.
func TestMeterRateMakesAFastPeerWait(t *testing.T) {
	cfg := config.Default().Limits
	cfg.StrangerRate, cfg.StrangerBurst = 1, 2
	ms := newMeters(cfg, zap.NewNop())
	msgs := make([]wire.Msg, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ms.admit(ctx, "eve", peer.Stranger, msgs[:2]); err != nil {
		t.Fatalf("the burst was not admitted at once: %v", err)
	}
	// The third message needs a token a second away: it must wait, here
	// longer than the context allows.
	if err := ms.admit(ctx, "eve", peer.Stranger, msgs[2:]); err == nil {
		t.Fatal("a message beyond the burst was admitted without waiting")
	}
	// A contact has no rate limit by default.
	if err := ms.admit(ctx, "bob", peer.Contact, make([]wire.Msg, 100)); err != nil {
		t.Fatalf("a contact was slowed down: %v", err)
	}
}

// Finding 4: fresh keys claiming a pinned contact made an event and log
// lines each. However many keys, one key_mismatch event per contact per
// interval, and the report map holds contacts only.
func TestKeyFloodIsReportedOnce(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	bob := startNode(t, tr, "bob", t.TempDir())
	startNode(t, tr, "alice", t.TempDir())
	bob.add("alice")
	ctx := context.Background()
	const keys = 2000
	for range keys {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := bob.d.Authorize(ctx, "alice", pub); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("a fresh key claiming alice: %v, want a key mismatch", err)
		}
	}
	evs, err := bob.d.Events(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == store.EventKeyMismatch {
			n++
		}
	}
	bob.d.mu.Lock()
	tracked := len(bob.d.mismatched)
	bob.d.mu.Unlock()
	if n != 1 || tracked != 1 {
		t.Fatalf("%d keys claiming alice made %d key_mismatch events (%d entries kept), want 1 (1)", keys, n, tracked)
	}
	t.Logf("key flood: %d fresh keys claiming a contact → %d event, %d report entry", keys, n, tracked)
}
