package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func TestMessagesBothWays(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob := startNode(t, tr, "bob", t.TempDir())

	m1 := alice.send("bob", "hi bob")
	waitFor(t, "bob receives", func() bool { return len(bob.bodies("alice")) == 1 })
	waitFor(t, "alice sees delivered", func() bool { return alice.state("bob", m1) == store.Delivered })
	bob.send("alice", "hi alice")
	waitFor(t, "alice receives", func() bool { return len(alice.bodies("bob")) == 2 })

	want(t, alice.bodies("bob"), "out:hi bob", "in:hi alice")
	want(t, bob.bodies("alice"), "in:hi bob", "out:hi alice")

	// Both pinned each other on first contact, from the tracker's records.
	for _, n := range []*node{alice, bob} {
		cs, err := n.d.Contacts(context.Background())
		if err != nil || len(cs) != 1 || cs[0].Verified {
			t.Fatalf("%s contacts = %+v, %v; want one unverified contact", n.name, cs, err)
		}
	}
	c, _ := alice.d.st.Contact(context.Background(), "bob")
	if !bytes.Equal(c.PublicKey, bob.d.id.Public) {
		t.Fatal("alice pinned a key that is not bob's")
	}
	// Events carry the incoming message and the receipt.
	evs, err := alice.d.Events(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	got := strings.Join(types, ",")
	for _, w := range []string{"contact", "presence", "delivered", "message"} {
		if !strings.Contains(got, w) {
			t.Errorf("alice's events %s lack %q", got, w)
		}
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	ctx := context.Background()
	for _, c := range []struct {
		to, body string
		want     error
	}{
		{"nobody", "hi", ErrUnknownUser},
		{"bob", strings.Repeat("x", 64<<10+1), ErrBodyTooLarge},
		{"bob", "   ", ErrEmptyBody},
		{"Bob!", "hi", record.ErrBadName},
	} {
		if _, err := alice.d.Send(ctx, c.to, c.body); !errors.Is(err, c.want) {
			t.Errorf("Send(%q, %d bytes) = %v, want %v", c.to, len(c.body), err, c.want)
		}
	}
	if _, err := alice.d.Send(ctx, "alice", "me"); err == nil {
		t.Error("sending to oneself was accepted")
	}
	// A 64 KiB body is allowed and arrives whole.
	bob := startNode(t, tr, "bob", t.TempDir())
	big := strings.Repeat("é", 32<<10) // 64 KiB of UTF-8
	alice.send("bob", big)
	waitFor(t, "64 KiB message arrives", func() bool { return len(bob.bodies("alice")) == 1 })
	if got := bob.bodies("alice")[0]; got != "in:"+big {
		t.Fatalf("64 KiB body arrived as %d bytes", len(got))
	}
}

func TestManyContactsAtOnce(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	hub := startNode(t, tr, "hub", t.TempDir())
	const n, per = 8, 5
	spokes := make([]*node, n)
	for i := range spokes {
		spokes[i] = startNode(t, tr, fmt.Sprintf("spoke%d", i), t.TempDir())
	}
	var wg sync.WaitGroup
	for _, s := range spokes {
		wg.Go(func() {
			for j := 0; j < per; j++ {
				s.send("hub", fmt.Sprintf("from %s %d", s.name, j))
				hub.send(s.name, fmt.Sprintf("to %s %d", s.name, j))
			}
		})
	}
	wg.Wait()
	for _, s := range spokes {
		waitFor(t, "hub has all of "+s.name, func() bool { return len(hub.bodies(s.name)) == 2*per })
		waitFor(t, s.name+" has all", func() bool { return len(s.bodies("hub")) == 2*per })
		var in []string
		for _, b := range hub.bodies(s.name) {
			if strings.HasPrefix(b, "in:") {
				in = append(in, b)
			}
		}
		want(t, in, seqBodies("in", "from "+s.name, 0, per)...)
	}
	if got := len(hub.d.pm.Sessions()); got != n {
		t.Errorf("hub has %d sessions, want one per contact (%d)", got, n)
	}
}

func TestPeerOfflineThenBack(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bobDir := t.TempDir()
	bob := startNode(t, tr, "bob", bobDir)
	alice.send("bob", "hello 0")
	waitFor(t, "first message", func() bool { return len(bob.bodies("alice")) == 1 })

	bob.stop()
	var sent []store.Message
	for i := 1; i <= 20; i++ {
		sent = append(sent, alice.send("bob", fmt.Sprintf("hello %d", i)))
	}
	// While bob is away nothing is delivered and nothing is lost.
	time.Sleep(300 * time.Millisecond)
	if st := alice.state("bob", sent[len(sent)-1]); st == store.Delivered {
		t.Fatalf("message to an offline peer marked %s", st)
	}

	bob = startNode(t, tr, "bob", bobDir) // new port, re-announced
	waitFor(t, "queued messages arrive", func() bool { return len(bob.bodies("alice")) >= 21 })
	waitFor(t, "all delivered", func() bool { return alice.state("bob", sent[len(sent)-1]) == store.Delivered })
	want(t, bob.bodies("alice"), seqBodies("in", "hello", 0, 21)...)
}

func TestRestartsMidConversation(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	aliceDir, bobDir := t.TempDir(), t.TempDir()
	alice := startNode(t, tr, "alice", aliceDir)
	bob := startNode(t, tr, "bob", bobDir)
	const total = 60
	for i := 0; i < total; i++ {
		alice.send("bob", fmt.Sprintf("m %d", i))
		switch i {
		case 15: // receiver restarts while messages are in flight
			bob.stop()
			bob = startNode(t, tr, "bob", bobDir)
		case 35: // sender restarts with an outbox to resume
			alice.stop()
			alice = startNode(t, tr, "alice", aliceDir)
		case 45: // both at once
			alice.stop()
			bob.stop()
			bob = startNode(t, tr, "bob", bobDir)
			alice = startNode(t, tr, "alice", aliceDir)
		}
	}
	waitFor(t, "everything arrives", func() bool { return len(bob.bodies("alice")) >= total })
	// Exactly once, in send order, despite resends after each restart.
	want(t, bob.bodies("alice"), seqBodies("in", "m", 0, total)...)
	waitFor(t, "outbox drains", func() bool {
		p, _ := alice.d.st.Pending(context.Background(), "bob", 0, 10)
		return len(p) == 0
	})
}

func TestTrackerKeySwapRefused(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob := startNode(t, tr, "bob", t.TempDir())
	alice.send("bob", "before")
	waitFor(t, "first contact", func() bool { return len(bob.bodies("alice")) == 1 })
	bob.stop()

	// The tracker now says bob has another key (a legitimate-looking
	// rotation, signed by the old key: the tracker accepts it).
	newPub, newPriv, _ := ed25519.GenerateKey(rand.Reader)
	old, _, err := tr.Client().Lookup(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	rec := old.Record
	rec.PublicKey, rec.Seq = newPub, old.Seq+1
	signed, err := record.Sign(rec, newPriv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Client().Rotate(context.Background(), signed, record.SignRotation(rec, bob.d.id.Private)); err != nil {
		t.Fatalf("rotate on tracker: %v", err)
	}

	m := alice.send("bob", "after")
	waitFor(t, "key mismatch reported", func() bool { return hasEvent(t, alice, store.EventKeyMismatch, "bob") })
	if st := alice.state("bob", m); st == store.Delivered {
		t.Fatal("message delivered despite a changed key")
	}
	c, _ := alice.d.st.Contact(context.Background(), "bob")
	if !bytes.Equal(c.PublicKey, bob.d.id.Public) {
		t.Fatal("the pinned key was replaced by the tracker's new key")
	}
	if _, err := alice.d.AddContact(context.Background(), "carol"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
}

// An impostor that claims a pinned contact's name with another key is
// refused by the accepting side. The impostor uses its own tracker, where
// it registered "bob" and copied alice's self-certifying record.
func TestImpostorRefused(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob := startNode(t, tr, "bob", t.TempDir())
	alice.send("bob", "hi")
	waitFor(t, "first contact", func() bool { return len(bob.bodies("alice")) == 1 })

	evil := trackertest.New(t)
	aliceRec, _, err := tr.Client().Lookup(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evil.Client().Register(context.Background(), aliceRec); err != nil {
		t.Fatalf("copy alice's record: %v", err)
	}
	mallory := startNode(t, evil, "bob", t.TempDir())
	mallory.send("alice", "i am bob, trust me")
	waitFor(t, "alice reports the impostor", func() bool { return hasEvent(t, alice, store.EventKeyMismatch, "bob") })
	time.Sleep(200 * time.Millisecond)
	want(t, alice.bodies("bob"), "out:hi")
	// The real bob still gets through.
	bob.send("alice", "the real bob")
	waitFor(t, "real bob's message", func() bool { return len(alice.bodies("bob")) == 2 })
}

func TestRefusesInsecureOrCorruptKey(t *testing.T) {
	tr := trackertest.New(t)
	dir := t.TempDir()
	n := startNode(t, tr, "alice", dir)
	n.stop()
	key := filepath.Join(dir, "identity.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Config: testConfig(tr, "alice", dir), NoControl: true}); err == nil || !strings.Contains(err.Error(), "chmod") {
		t.Fatalf("world-readable key: got %v, want a refusal that says chmod", err)
	}
	os.Chmod(key, 0o600)
	os.WriteFile(key, []byte("garbage"), 0o600)
	if _, err := New(Options{Config: testConfig(tr, "alice", dir), NoControl: true}); err == nil {
		t.Fatal("corrupt key accepted")
	}
}

func hasEvent(t testing.TB, n *node, typ, peer string) bool {
	evs, err := n.d.Events(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == typ && e.Peer == peer {
			return true
		}
	}
	return false
}
