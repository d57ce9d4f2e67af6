package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
)

func TestExchangeBothWays(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob := newNode(t, dir, "alice"), newNode(t, dir, "bob")

	alice.send("bob", "hi bob")
	alice.send("bob", "are you there?")
	waitFor(t, "bob to receive", func() bool { return len(bob.h.bodies("alice")) == 2 })
	bob.send("alice", "yes!")
	waitFor(t, "alice to receive", func() bool { return len(alice.h.bodies("bob")) == 1 })

	if got := bob.h.bodies("alice"); !slices.Equal(got, []string{"hi bob", "are you there?"}) {
		t.Errorf("bob received %q", got)
	}
	if got := alice.h.bodies("bob"); !slices.Equal(got, []string{"yes!"}) {
		t.Errorf("alice received %q", got)
	}
	waitFor(t, "acks", func() bool { return alice.h.unacked("bob") == 0 && bob.h.unacked("alice") == 0 })

	as, bs := alice.m.Sessions(), bob.m.Sessions()
	if len(as) != 1 || len(bs) != 1 {
		t.Fatalf("sessions: alice %v, bob %v; want one each", as, bs)
	}
	if as[0].LocalAddr != bs[0].RemoteAddr || as[0].RemoteAddr != bs[0].LocalAddr {
		t.Errorf("alice and bob report different connections: %+v vs %+v", as[0], bs[0])
	}
	if as[0].LocalAddr == alice.m.Addr().String() {
		t.Errorf("alice dialled from her listening address %s: only hole punches may (see Manager.dial)", alice.m.Addr())
	}
	if !slices.Equal(alice.h.stateLog(), []string{"bob up"}) || !slices.Equal(bob.h.stateLog(), []string{"alice up"}) {
		t.Errorf("presence: alice %v, bob %v", alice.h.stateLog(), bob.h.stateLog())
	}
}

func TestExactlyOnceInOrderAcrossReconnects(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob := newNode(t, dir, "alice"), newNode(t, dir, "bob")
	const total = 3000
	var want []string
	for i := range total {
		want = append(want, fmt.Sprint("m", i))
		alice.h.enqueue("bob", want[i])
	}
	alice.m.Notify("bob")
	// Cut the connection under the stream a few times.
	for _, at := range []int{300, 1200, 2500} {
		waitFor(t, fmt.Sprint("bob to pass ", at), func() bool { return len(bob.h.bodies("alice")) >= at })
		alice.m.mu.Lock()
		if s := alice.m.sessions["bob"]; s != nil {
			s.link.raw.Close()
		}
		alice.m.mu.Unlock()
	}
	waitFor(t, "everything acked", func() bool { return alice.h.unacked("bob") == 0 })
	if got := bob.h.bodies("alice"); !slices.Equal(got, want) {
		t.Fatalf("bob received %d messages, want %d in order (first difference near %d)", len(got), total, firstDiff(got, want))
	}
	t.Logf("%d duplicates dropped by the receiver", bob.h.dupes)
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestManyContacts(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	hub := newNode(t, dir, "hub")
	const spokes, each = 20, 5
	var nodes []*node
	for i := range spokes {
		nodes = append(nodes, newNode(t, dir, fmt.Sprint("user", i)))
	}
	for _, n := range nodes {
		for j := range each {
			n.send("hub", fmt.Sprint(n.name, "->hub ", j))
			hub.send(n.name, fmt.Sprint("hub->", n.name, " ", j))
		}
	}
	for _, n := range nodes {
		waitFor(t, "hub to hear from "+n.name, func() bool { return len(hub.h.bodies(n.name)) == each })
		waitFor(t, n.name+" to hear from hub", func() bool { return len(n.h.bodies("hub")) == each })
		if got := n.h.bodies("hub"); got[0] != fmt.Sprint("hub->", n.name, " 0") {
			t.Errorf("%s got %q first", n.name, got[0])
		}
	}
	waitFor(t, "one session per contact at the hub", func() bool { return len(hub.m.Sessions()) == spokes })
}

func TestSimultaneousDialEndsWithOneSession(t *testing.T) {
	checkLeaks(t)
	for round := range 5 {
		dir := newDirectory()
		alice, bob := newNode(t, dir, fmt.Sprint("alice", round)), newNode(t, dir, fmt.Sprint("bob", round))
		alice.h.enqueue(bob.name, "from alice")
		bob.h.enqueue(alice.name, "from bob")
		go alice.m.Notify(bob.name)
		bob.m.Notify(alice.name)
		waitFor(t, "both messages", func() bool {
			return len(alice.h.bodies(bob.name)) == 1 && len(bob.h.bodies(alice.name)) == 1
		})
		assertOneSharedSession(t, alice, bob)
	}
}

// assertOneSharedSession waits until both sides hold exactly one session
// and it is the same connection.
func assertOneSharedSession(t *testing.T, a, b *node) {
	t.Helper()
	waitFor(t, "a single shared session", func() bool {
		as, bs := a.m.Sessions(), b.m.Sessions()
		return len(as) == 1 && len(bs) == 1 && as[0].LocalAddr == bs[0].RemoteAddr && as[0].RemoteAddr == bs[0].LocalAddr
	})
}

func TestDuplicateConnectionKeepsExactlyOne(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob := newNode(t, dir, "alice"), newNode(t, dir, "bob")
	alice.send("bob", "first")
	waitFor(t, "first message", func() bool { return len(bob.h.bodies("alice")) == 1 })
	// A second connection for the same pair, from another port, while the
	// first is up: both ends must drop the same one.
	for range 3 {
		conn, err := net.Dial("tcp", bob.m.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := alice.m.AddConn(context.Background(), conn, "bob", PathDirect); err != nil {
			t.Fatalf("AddConn: %v", err)
		}
		assertOneSharedSession(t, alice, bob)
	}
	alice.send("bob", "second")
	bob.send("alice", "reply")
	waitFor(t, "messages after the duplicates", func() bool {
		return len(bob.h.bodies("alice")) == 2 && len(alice.h.bodies("bob")) == 1
	})
	if st := bob.h.stateLog(); st[len(st)-1] != "alice up" || slices.Contains(st, "alice down") {
		t.Errorf("bob saw alice flap while duplicates were resolved: %v", st)
	}
}

func TestWrongKeyRefusedWhenDialling(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob, mallory := newNode(t, dir, "alice"), newNode(t, dir, "bob"), newNode(t, dir, "mallory")
	// Alice pinned another key for bob: bob's real key must be refused.
	alice.trust.pin("bob", mallory.id.Public)
	alice.send("bob", "secret")
	waitFor(t, "a refusal", func() bool { return len(alice.h.refusals()) > 0 })
	var km *KeyMismatchError
	if err := alice.h.refusals()[0]; !errors.As(err, &km) || !km.Got.Equal(bob.id.Public) || !km.Want.Equal(mallory.id.Public) {
		t.Fatalf("refusal = %v, want a key mismatch naming both keys", err)
	}
	if len(alice.m.Sessions()) != 0 || len(bob.m.Sessions()) != 0 || len(bob.h.bodies("alice")) != 0 {
		t.Fatal("a session came up with the wrong key")
	}
}

func TestWrongKeyRefusedWhenAccepting(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob := newNode(t, dir, "alice"), newNode(t, dir, "bob")
	alice.trust.pin("bob", bob.id.Public)
	// An impostor calls itself bob and dials alice with its own key.
	impostor := newNode(t, newDirectory(), "bob")
	impostor.trust.dir.set("alice", alice.id.Public, alice.m.Addr().String())
	impostor.send("alice", "it's me, bob")
	waitFor(t, "alice to refuse", func() bool { return len(alice.h.refusals()) > 0 })
	if err := alice.h.refusals()[0]; !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("refusal = %v, want ErrKeyMismatch", err)
	}
	if len(alice.h.bodies("bob")) != 0 {
		t.Fatal("alice accepted a message from the impostor")
	}
	waitFor(t, "no session at alice", func() bool { return len(alice.m.Sessions()) == 0 })
	// The real bob still gets through.
	bob.send("alice", "the real bob")
	waitFor(t, "the real bob", func() bool { return len(alice.h.bodies("bob")) == 1 })
}

func TestIdleSessionCloses(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	idle := func(c *Config) { c.IdleTimeout = 100 * time.Millisecond; c.KeepAlive = 50 * time.Millisecond }
	alice, bob := newNode(t, dir, "alice", idle), newNode(t, dir, "bob", idle)
	alice.send("bob", "hello")
	waitFor(t, "delivery", func() bool { return len(bob.h.bodies("alice")) == 1 })
	waitFor(t, "idle close", func() bool { return len(alice.m.Sessions()) == 0 && len(bob.m.Sessions()) == 0 })
	waitFor(t, "alice to report bob down", func() bool { return len(alice.h.stateLog()) == 2 })
	if got := alice.h.stateLog(); !slices.Equal(got, []string{"bob up", "bob down"}) {
		t.Errorf("alice presence: %v", got)
	}
	alice.send("bob", "again")
	waitFor(t, "delivery after idle close", func() bool { return len(bob.h.bodies("alice")) == 2 })
}

func TestDeliverFailureMeansNoAckAndRetry(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob := newNode(t, dir, "alice"), newNode(t, dir, "bob")
	bob.h.failNext.Store(1)
	alice.send("bob", "persist me")
	waitFor(t, "delivery on retry", func() bool { return len(bob.h.bodies("alice")) == 1 })
	waitFor(t, "ack", func() bool { return alice.h.unacked("bob") == 0 })
	if bob.h.failNext.Load() > 0 {
		t.Fatal("Deliver was never made to fail")
	}
}

func TestCloseTwiceAndBeforeRun(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	n := newNode(t, dir, "alice")
	if err := n.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	id := n.id
	m, err := NewManager(Config{Identity: id, Name: "x", ListenAddr: "127.0.0.1:0",
		Resolver: n.trust, Authorizer: n.trust, Handler: n.h})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
	if err := m.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestRunStopsOnContextWithSessionsUp(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	bob := newNode(t, dir, "bob")
	alice := newNode(t, dir, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	carol := newNodeNoRun(t, dir, "carol")
	done := make(chan error, 1)
	go func() { done <- carol.m.Run(ctx) }()
	carol.send("bob", "x")
	carol.send("alice", "y")
	waitFor(t, "deliveries", func() bool {
		return len(bob.h.bodies("carol")) == 1 && len(alice.h.bodies("carol")) == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v after cancel, want nil", err)
	}
	// Run returns only after the reports are made.
	if got := carol.h.stateLog(); len(got) != 4 {
		t.Errorf("carol presence after shutdown: %v, want up and down for both", got)
	}
	waitFor(t, "peers to see carol leave", func() bool {
		return len(bob.m.Sessions()) == 0 && len(alice.m.Sessions()) == 0
	})
}

func TestKeepalivesHoldAQuietSession(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	quick := func(c *Config) { c.KeepAlive = 100 * time.Millisecond }
	alice, bob := newNode(t, dir, "alice", quick), newNode(t, dir, "bob", quick)
	alice.send("bob", "hello")
	waitFor(t, "delivery", func() bool { return len(bob.h.bodies("alice")) == 1 })
	first := alice.m.Sessions()[0]
	// Many times the 3×KeepAlive dead limit with no messages: only
	// pings and pongs keep the session alive.
	time.Sleep(5 * 3 * 100 * time.Millisecond)
	now := alice.m.Sessions()
	if len(now) != 1 || now[0].Since != first.Since {
		t.Fatalf("quiet session did not survive on keepalives: %+v then %+v", first, now)
	}
}

func TestRedialsWithBackoffUntilPeerReturns(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice")
	bobID, _ := identity.Generate(nil)
	// Nothing listens at bob's advertised address yet.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	dir.set("bob", bobID.Public, dead)
	alice.send("bob", "are you back?")
	alice.send("bob", "hello?")
	waitFor(t, "a few failed attempts", func() bool { return alice.m.dialerRunning("bob") })
	time.Sleep(50 * time.Millisecond)

	bob := newNodeWithIdentity(t, dir, "bob", bobID)
	waitFor(t, "bob to get the queued messages", func() bool { return len(bob.h.bodies("alice")) == 2 })
	if got := bob.h.bodies("alice"); got[0] != "are you back?" {
		t.Errorf("order: %q", got)
	}
	waitFor(t, "the dialler to stop", func() bool { return !alice.m.dialerRunning("bob") })
}
