package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	bob.add("alice")

	m1 := alice.send("bob", "hi bob")
	waitFor(t, "bob receives", func() bool { return len(bob.bodies("alice")) == 1 })
	waitFor(t, "alice sees delivered", func() bool { return alice.state("bob", m1) == store.Delivered })
	bob.send("alice", "hi alice")
	waitFor(t, "alice receives", func() bool { return len(alice.bodies("bob")) == 2 })

	want(t, alice.bodies("bob"), "out:hi bob", "in:hi alice")
	want(t, bob.bodies("alice"), "in:hi bob", "out:hi alice")

	// Both pinned each other (alice by sending, bob by adding her), from
	// the tracker's records.
	for _, n := range []*node{alice, bob} {
		cs, err := n.d.Contacts(context.Background())
		if err != nil || len(cs) != 1 || cs[0].Verified {
			t.Fatalf("%s contacts = %+v, %v; want one unverified contact", n.name, cs, err)
		}
	}
	c, _ := alice.d.store.Contact(context.Background(), "bob")
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
	bob.add("alice")
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
	if got := len(hub.d.peers.Sessions()); got != n {
		t.Errorf("hub has %d sessions, want one per contact (%d)", got, n)
	}
}

func TestPeerOfflineThenBack(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bobDir := t.TempDir()
	bob := startNode(t, tr, "bob", bobDir)
	bob.add("alice")
	alice.send("bob", "hello 0")
	waitFor(t, "first message", func() bool { return len(bob.bodies("alice")) == 1 })

	bobAddr := bob.d.PeerAddr().String()
	bob.stop()
	// Bob's record still names his old address; whatever answers there
	// now hangs up at once, so every attempt alice makes is seen and fails.
	away := newRefuser(t, bobAddr)
	var sent []store.Message
	for i := 1; i <= 20; i++ {
		sent = append(sent, alice.send("bob", fmt.Sprintf("hello %d", i)))
	}
	// While bob is away nothing is delivered and nothing is lost: checked
	// once alice has tried, failed and tried again three times.
	waitFor(t, "alice tries bob's old address three times", func() bool { return away.accepted() >= 3 })
	for _, m := range sent {
		if st := alice.state("bob", m); st != store.Queued {
			t.Fatalf("message %q to an offline peer is %s, want %s", m.Body, st, store.Queued)
		}
	}
	if p, err := alice.d.store.Pending(context.Background(), "bob", 0, 100); err != nil || len(p) != len(sent) {
		t.Fatalf("outbox holds %d messages (%v), want all %d", len(p), err, len(sent))
	}
	away.close()

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
	bob.add("alice")
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
		p, _ := alice.d.store.Pending(context.Background(), "bob", 0, 10)
		return len(p) == 0
	})
}

// The tracker says a pinned contact has a new key, and someone holds that
// key and listens at the record's address: alice must not follow the
// record. Mallory runs as "bob" with the new key (registered on her own
// tracker, where she also copied alice's record so that she would accept
// alice), and the real tracker's record for bob is rotated to her key and
// address (a rotation signed by bob's old key, which the tracker accepts).
func TestTrackerKeySwapRefused(t *testing.T) {
	checkGoroutines(t)
	ctx := context.Background()
	tr := trackertest.New(t)
	lt := newLyingTracker(t, tr.URL, "bob") // honest; counts alice's lookups of bob
	aliceCfg := testConfig(tr, "alice", t.TempDir())
	aliceCfg.Tracker = lt.URL
	alice := startNodeConfig(t, aliceCfg)
	bob := startNode(t, tr, "bob", t.TempDir())
	bob.add("alice")
	alice.send("bob", "before")
	waitFor(t, "first contact", func() bool { return len(bob.bodies("alice")) == 1 })
	bob.stop()

	evil := trackertest.New(t)
	aliceRec, _, err := tr.Client().Lookup(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evil.Client().Register(ctx, aliceRec); err != nil {
		t.Fatalf("copy alice's record: %v", err)
	}
	mallory := startNode(t, evil, "bob", t.TempDir())
	toMallory := newTCPCounter(t, mallory.d.PeerAddr().String())

	old, _, err := tr.Client().Lookup(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	rec := old.Record
	rec.PublicKey, rec.Addrs, rec.Seq = mallory.d.id.Public, []string{toMallory.addr()}, old.Seq+1
	signed, err := record.Sign(rec, mallory.d.id.Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Rotate(ctx, signed, bob.d.id.Private); err != nil {
		t.Fatalf("rotate on tracker: %v", err)
	}

	before := lt.lookups("")
	m := alice.send("bob", "after")
	// Alice looks bob up before every dial: three lookups of the swapped
	// record are three chances to dial mallory.
	waitFor(t, "alice looks up the swapped record three times, or mallory receives", func() bool {
		return lt.lookups("") >= before+3 || len(mallory.bodies("alice")) > 0
	})
	if got := mallory.bodies("alice"); len(got) != 0 {
		t.Fatalf("the holder of the tracker's new key received %q", got)
	}
	// Not even a connection: a record whose key is not the pin gives
	// nothing to dial (the handshake would refuse mallory too, but by
	// then she has seen alice's key and address).
	if n := toMallory.accepted(); n != 0 {
		t.Fatalf("alice dialled the address of the tracker's new key %d times", n)
	}
	if _, err := mallory.d.store.Contact(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mallory has alice as a contact (%v): a session reached her", err)
	}
	if st := alice.state("bob", m); st == store.Delivered {
		t.Fatal("message delivered despite a changed key")
	}
	if !hasEvent(t, alice, store.EventKeyMismatch, "bob") {
		t.Error("the key change was not reported as a key_mismatch event")
	}
	c, _ := alice.d.store.Contact(ctx, "bob")
	if !bytes.Equal(c.PublicKey, bob.d.id.Public) {
		t.Fatal("the pinned key was replaced by the tracker's new key")
	}
	if _, err := alice.d.AddContact(ctx, "carol"); !errors.Is(err, ErrUnknownUser) {
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
	bob.add("alice")
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
	lt := newLyingTracker(t, evil.URL, "alice") // honest; counts mallory's lookups of alice
	malloryCfg := testConfig(evil, "bob", t.TempDir())
	malloryCfg.Tracker = lt.URL
	mallory := startNodeConfig(t, malloryCfg)
	fake := mallory.send("alice", "i am bob, trust me")
	waitFor(t, "alice reports the impostor", func() bool { return hasEvent(t, alice, store.EventKeyMismatch, "bob") })
	// Mallory looks alice up before every dial: two more lookups mean an
	// attempt has ended (refused) and she has tried again.
	after := lt.lookups("")
	waitFor(t, "mallory retries twice, or alice accepts her message", func() bool {
		return lt.lookups("") >= after+2 || len(alice.bodies("bob")) > 1
	})
	want(t, alice.bodies("bob"), "out:hi")
	if st := mallory.state("alice", fake); st == store.Delivered {
		t.Fatal("the impostor's message is marked delivered")
	}
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

// refuser listens on addr and closes every connection at once, counting
// them.
type refuser struct {
	ln   net.Listener
	done chan struct{}
	mu   sync.Mutex
	n    int
}

func newRefuser(t *testing.T, addr string) *refuser {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the stopped peer's address: %v", err)
	}
	r := &refuser{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.n++
			r.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(r.close)
	return r
}

func (r *refuser) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// close stops listening (so the address is free again) and waits for the
// accept loop; safe to call twice.
func (r *refuser) close() {
	r.ln.Close()
	<-r.done
}

// tcpCounter forwards TCP connections to target and counts them: a
// positive record of who tried to reach an address.
type tcpCounter struct {
	ln net.Listener
	mu sync.Mutex
	n  int
}

func newTCPCounter(t *testing.T, target string) *tcpCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpCounter{ln: ln}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.n++
			c.mu.Unlock()
			wg.Go(func() { forward(in, target) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return c
}

func (c *tcpCounter) addr() string { return c.ln.Addr().String() }

func (c *tcpCounter) accepted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// forward copies between in and a new connection to target until either
// side closes.
func forward(in net.Conn, target string) {
	defer in.Close()
	out, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(out, in); done <- struct{}{} }()
	go func() { io.Copy(in, out); done <- struct{}{} }()
	<-done
	in.Close()
	out.Close()
	<-done
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
