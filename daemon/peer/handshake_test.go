package peer

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
)

// A dialled peer with another key is refused in either TLS role (the
// tie-break nonces choose it, so twenty tries cover both): in the handshake
// as the client, after it as the server, both on the one shared TLS
// configuration.
func TestHandshakeRefusesWrongKeyInBothRoles(t *testing.T) {
	self, _ := identity.Generate(nil)
	other, _ := identity.Generate(nil)
	expected, _ := identity.Generate(nil)
	selfCert, _ := self.TLSCertificate()
	otherCert, _ := other.TLSCertificate()
	selfBase, otherBase := newTLSBase(selfCert, self.Public), newTLSBase(otherCert, other.Public)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range 20 {
		done := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			_, err = handshake(context.Background(), c, handshakeParams{
				self: other, name: "mallory", tlsBase: otherBase, timeout: 5 * time.Second})
			done <- err
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, err = handshake(context.Background(), c, handshakeParams{
			self: self, name: "alice", tlsBase: selfBase, expectKey: expected.Public,
			expectName: "bob", dialed: true, timeout: 5 * time.Second})
		c.Close()
		if !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("dialling bob, answered by another key: %v, want a key mismatch", err)
		}
		if err := <-done; err == nil {
			t.Fatal("the impostor's side of the handshake succeeded")
		}
	}
}
