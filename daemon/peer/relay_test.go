package peer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/server"
)

// startRelay runs a real relay on loopback until the test ends.
func startRelay(t *testing.T) relay.Addr {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Config{Key: key, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	return s.Addr(ln.Addr().String())
}

// reserve holds n's reservation on the relay and hands what comes through
// it to n's manager, as chatd does, until the test ends.
func reserve(t *testing.T, n *node, a relay.Addr) {
	t.Helper()
	res, err := relay.Reserve(context.Background(), a, n.id.Private, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, _, err := res.Accept(context.Background())
			if err != nil {
				return
			}
			n.m.Serve(conn, PathRelayed)
		}
	}()
	t.Cleanup(func() { res.Close(); <-done })
}

// addrsFor makes a node resolve peer to addrs (the record's addresses).
func addrsFor(peer string, addrs ...string) nodeOpt {
	return func(c *Config) { c.Resolver = fixedAddrs{c.Resolver, peer, addrs} }
}

type fixedAddrs struct {
	Resolver
	peer  string
	addrs []string
}

func (f fixedAddrs) Resolve(ctx context.Context, name string) (ed25519.PublicKey, []string, error) {
	key, addrs, err := f.Resolver.Resolve(ctx, name)
	if name == f.peer && err == nil {
		addrs = f.addrs
	}
	return key, addrs, err
}

// A peer whose record offers only a dead direct address and a relay is
// reached through the relay, and the session says so; a direct connection
// that comes up later replaces it in the middle of a stream, with every
// message delivered once and in order.
func TestRelayedSessionThenUpgrade(t *testing.T) {
	checkLeaks(t)
	ra := startRelay(t)
	dir := newDirectory()
	bob := newNode(t, dir, "bob")
	reserve(t, bob, ra)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close() // connection refused there
	alice := newNode(t, dir, "alice", addrsFor("bob", dead.Addr().String(), ra.String()))

	alice.send("bob", "through the relay")
	waitFor(t, "bob to receive through the relay", func() bool { return len(bob.h.bodies("alice")) == 1 })
	for _, n := range []*node{alice, bob} {
		ss := n.m.Sessions()
		if len(ss) != 1 || ss[0].Path != PathRelayed {
			t.Fatalf("%s's sessions %+v; want one relayed", n.name, ss)
		}
	}
	waitFor(t, "a round trip measured", func() bool { ss := alice.m.Sessions(); return len(ss) == 1 && ss[0].RTT > 0 })

	var want []string
	for i := range 300 {
		body := fmt.Sprintf("m%03d", i)
		want = append(want, body)
		alice.send("bob", body)
		if i == 100 {
			conn, err := net.DialTimeout("tcp", alice.m.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := bob.m.AddConn(context.Background(), conn, "alice", PathDirect); err != nil {
				t.Fatalf("direct connection: %v", err)
			}
		}
	}
	want = append([]string{"through the relay"}, want...)
	waitFor(t, "all 301 messages", func() bool { return len(bob.h.bodies("alice")) >= len(want) })
	if got := bob.h.bodies("alice"); !slices.Equal(got, want) {
		t.Fatalf("bob received %d messages, not the %d sent once each in order", len(got), len(want))
	}
	waitFor(t, "both sessions direct", func() bool {
		as, bs := alice.m.Sessions(), bob.m.Sessions()
		return len(as) == 1 && len(bs) == 1 && as[0].Path == PathDirect && bs[0].Path == PathDirect
	})
	waitFor(t, "acks", func() bool { return alice.h.unacked("bob") == 0 })
}

// Over a relayed session the two sides trade addresses; the caller says it
// can be dialled, the side that held the reservation dials it (here
// everything is on loopback), and the session moves to that reversed
// connection by itself.
func TestRelayedSessionUpgradesByReversal(t *testing.T) {
	checkLeaks(t)
	ra := startRelay(t)
	dir := newDirectory()
	var aliceAddr string
	offer := func(addr *string) nodeOpt {
		return func(c *Config) { c.SelfAddrs = func() []string { return []string{*addr} } }
	}
	var bobAddr string
	bob := newNode(t, dir, "bob", offer(&bobAddr))
	bobAddr = bob.m.Addr().String()
	reserve(t, bob, ra)
	alice := newNode(t, dir, "alice", addrsFor("bob", ra.String()), offer(&aliceAddr),
		func(c *Config) { c.ReversalWait = 2 * time.Second; c.Dialable = func() bool { return true } })
	aliceAddr = alice.m.Addr().String()

	alice.send("bob", "first through the relay")
	waitFor(t, "bob to receive", func() bool { return len(bob.h.bodies("alice")) == 1 })
	waitFor(t, "the session reversed on both sides", func() bool {
		as, bs := alice.m.Sessions(), bob.m.Sessions()
		return len(as) == 1 && len(bs) == 1 && as[0].Path == PathReversed && bs[0].Path == PathReversed
	})
	alice.send("bob", "second, directly")
	waitFor(t, "bob to receive", func() bool { return len(bob.h.bodies("alice")) == 2 })
	if got := alice.h.stateLog(); !slices.Equal(got, []string{"bob up", "bob up"}) {
		t.Errorf("alice's presence reports %v; want up (relayed) then up again (the upgrade)", got)
	}
}

// A peer that offers no address is an error, not a nil connection.
func TestConnectWithoutAddresses(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice")
	if _, _, err := alice.m.connect(context.Background(), alice.id.Public, nil, true); err == nil {
		t.Fatal("connect with no address returned no error")
	}
	if err := alice.m.dialDirect(context.Background(), "alice", alice.id.Public, []string{"relay://127.0.0.1:1/" + strings.Repeat("A", 43)}, PathPunched); err == nil {
		t.Fatal("a punch with only a relay address returned no error")
	}
}
