package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/wire"
)

// rawPeer completes a real handshake with n as user name and then lets
// the test write whatever bytes it likes into the TLS stream.
func rawPeer(t *testing.T, dir *directory, n *node, name string) *link {
	t.Helper()
	id, _ := identity.Generate(nil)
	dir.set(name, id.Public, "127.0.0.1:1") // known to the "tracker", never dialled
	cert, err := id.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", n.m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	l, err := handshake(context.Background(), conn, handshakeParams{
		self: id, name: name, tlsBase: newTLSBase(cert, id.Public), expectKey: n.id.Public,
		expectName: n.name, dialed: true, timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("raw peer handshake: %v", err)
	}
	waitFor(t, n.name+" to accept "+name, func() bool { return sessionCount(n, name) == 1 })
	return l
}

// assertStillWorks checks that from can still send to to.
func assertStillWorks(t *testing.T, from, to *node, tag string) {
	t.Helper()
	before := len(to.h.bodies(from.name))
	from.send(to.name, tag)
	waitFor(t, from.name+"→"+to.name+" after "+tag, func() bool { return len(to.h.bodies(from.name)) == before+1 })
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	stall := func(c *Config) { c.KeepAlive = 100 * time.Millisecond }
	alice, bob := newNode(t, dir, "alice", stall), newNode(t, dir, "bob", stall)
	assertStillWorks(t, alice, bob, "warm-up")

	t.Run("garbage before the handshake", func(t *testing.T) {
		conn, err := net.Dial("tcp", alice.m.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + string(make([]byte, 100))))
		assertClosedByPeer(t, conn)
		assertStillWorks(t, alice, bob, "garbage")
	})
	cases := map[string][]byte{
		"oversized frame":   frameHeader(wire.TypeMsg, wire.MaxFrame+1),
		"unknown type":      frameHeader(99, 0),
		"malformed ack":     append(frameHeader(wire.TypeAck, 3), 0, 1, 2),
		"second hello":      mustFrame(wire.Hello{Versions: []uint16{1}, Name: "x"}),
		"stalled mid-frame": append(frameHeader(wire.TypeMsg, 100), make([]byte, 10)...),
	}
	i := 0
	for name, data := range cases {
		i++
		peer := fmt.Sprint("mallory", i) // each with its own key and pin
		t.Run(name, func(t *testing.T) {
			l := rawPeer(t, dir, alice, peer)
			if _, err := l.tls.Write(data); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "alice to drop "+peer, func() bool { return sessionCount(alice, peer) == 0 })
			assertClosedByPeer(t, l.tls)
			assertStillWorks(t, alice, bob, name)
		})
	}
}

func frameHeader(typ wire.Type, n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{byte(typ)}, n)
}

func mustFrame(f wire.Frame) []byte {
	b, err := wire.AppendFrame(nil, f)
	if err != nil {
		panic(err)
	}
	return b
}

// assertClosedByPeer reads until the other side hangs up.
func assertClosedByPeer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

// TestCertificateDecidesWhoCalled: the preamble names no one, so who
// called is what the TLS certificate proves. Mallory, with her own key,
// speaks the protocol correctly but says she is bob: refused.
func TestCertificateDecidesWhoCalled(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice, bob := newNode(t, dir, "alice"), newNode(t, dir, "bob")
	mallory, _ := identity.Generate(nil)
	cert, _ := mallory.TLSCertificate()
	conn, err := net.Dial("tcp", alice.m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l, err := handshake(context.Background(), conn, handshakeParams{
		self: mallory, name: "bob", tlsBase: newTLSBase(cert, mallory.Public), expectKey: alice.id.Public,
		expectName: "alice", dialed: true, timeout: 10 * time.Second,
	})
	if err == nil {
		var f wire.Frame
		if f, err = l.r.ReadFrame(); err == nil { // alice's Bye, or her hanging up
			if _, ok := f.(wire.Bye); !ok {
				t.Fatalf("mallory as bob got %v, want a Bye", f.Type())
			}
		}
	}
	waitFor(t, "alice to report the impostor", func() bool { return len(alice.h.refusals()) > 0 })
	if err := alice.h.refusals()[0]; !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("alice's refusal = %v, want ErrKeyMismatch", err)
	}
	if n := len(alice.m.Sessions()); n != 0 {
		t.Fatalf("alice has %d sessions", n)
	}
	assertStillWorks(t, bob, alice, "after an impostor") // bob→alice
}

func TestUnknownUserIsRefused(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice")
	// eve is not on the tracker: alice cannot verify her key.
	eve := newNode(t, newDirectory(), "eve")
	eve.trust.dir.set("alice", alice.id.Public, alice.m.Addr().String())
	eve.send("alice", "hi")
	waitFor(t, "alice to refuse eve", func() bool { return len(alice.h.refusals()) > 0 })
	if len(alice.h.bodies("eve")) != 0 || len(alice.m.Sessions()) != 0 {
		t.Fatal("alice accepted an unverifiable peer")
	}
}

func TestSelfConnectionRefused(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice")
	conn, err := net.Dial("tcp", alice.m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cert, _ := alice.id.TLSCertificate()
	_, err = handshake(context.Background(), conn, handshakeParams{
		self: alice.id, name: "alice", tlsBase: newTLSBase(cert, alice.id.Public), timeout: 5 * time.Second,
	})
	if !errors.Is(err, ErrSelf) {
		t.Fatalf("handshake with ourselves: %v, want ErrSelf", err)
	}
}
