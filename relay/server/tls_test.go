package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// tlsConfig is chatd's peer TLS in miniature: TLS 1.3, the identity
// certificate, and the peer's key pinned to want.
func tlsConfig(t *testing.T, me ed25519.PrivateKey, want ed25519.PublicKey) *tls.Config {
	t.Helper()
	id := &identity.Identity{Private: me, Public: pub(me)}
	cert, err := id.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert,
		InsecureSkipVerify: true, // chains and names mean nothing here; the key is checked below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			k, err := identity.PeerKeyFromCerts(raw)
			if err != nil {
				return err
			}
			if !k.Equal(want) {
				return errPinned
			}
			return nil
		},
	}
}

var errPinned = errors.New("peer key is not the pinned key")

// TestTLSEndToEndThroughRelay runs a TLS 1.3 session between alice and bob
// through the relay, recording what the path sees (a tap in front of the
// relay) and what the relay sees (the bytes inside the relay's TLS, which
// it decrypts): the marker crosses, neither sees it.
func TestTLSEndToEndThroughRelay(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	tp := newTap(t, r.addr.HostPort)
	res := reserve(t, r, bob, tp.dial)
	caller0, callee0, _ := connectPair(t, r, res, bob, tp.dial)
	caller, callee := &recording{Conn: caller0}, &recording{Conn: callee0}

	marker := []byte("PLAINTEXT-MARKER-8f3a1c")
	errc := make(chan error, 1)
	done := make(chan struct{}) // bob's side closed: its recordings are still
	go func() {
		defer close(done)
		s := tls.Server(callee, tlsConfig(t, bob, pub(alice)))
		defer s.Close()
		got := make([]byte, len(marker))
		if _, err := io.ReadFull(s, got); err != nil {
			errc <- fmt.Errorf("bob read: %w", err)
			return
		}
		_, err := s.Write(append([]byte("re: "), got...))
		errc <- err
	}()
	c := tls.Client(caller, tlsConfig(t, alice, pub(bob)))
	defer c.Close()
	if _, err := c.Write(marker); err != nil {
		t.Fatalf("alice write: %v", err)
	}
	reply := make([]byte, len(marker)+4)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatalf("alice read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	<-done
	if !bytes.Equal(reply[4:], marker) || c.ConnectionState().Version != tls.VersionTLS13 {
		t.Fatalf("reply %q over %x", reply, c.ConnectionState().Version)
	}
	if tp.saw(marker) {
		t.Fatal("the path saw the plaintext marker")
	}
	if tp.total() < 2000 {
		t.Fatalf("the tap saw %d bytes: it is not in the path", tp.total())
	}
	for _, rc := range []*recording{caller, callee} {
		if bytes.Contains(rc.in.Bytes(), marker) || bytes.Contains(rc.out.Bytes(), marker) {
			t.Fatal("the relay saw the plaintext marker")
		}
		if rc.in.Len() < 100 || rc.out.Len() < 100 {
			t.Fatalf("the relay's view is %d+%d bytes: nothing crossed", rc.in.Len(), rc.out.Len())
		}
	}
}

// TestLyingRelayFailsPinnedKey: a relay that joins alice to mallory when
// she asked for bob cannot pass the TLS check, since only bob holds bob's
// key. Here the "lie" is played by alice reaching mallory's reservation.
func TestLyingRelayFailsPinnedKey(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	mallory := carol
	res := reserve(t, r, mallory, nil)
	caller, callee, _ := connectPair(t, r, res, mallory, nil)
	errc := make(chan error, 1)
	go func() {
		s := tls.Server(callee, tlsConfig(t, mallory, pub(alice)))
		errc <- s.HandshakeContext(context.Background())
		s.Close()
	}()
	c := tls.Client(caller, tlsConfig(t, alice, pub(bob))) // alice pinned bob
	err := c.HandshakeContext(ctxT(t))
	c.Close()
	<-errc
	if !errors.Is(err, errPinned) {
		t.Fatalf("handshake with mallory: %v, want the pinned-key refusal", err)
	}
}

// recording is a relayed connection that keeps what it carries: the bytes
// the relay decrypts from one side and encrypts to the other.
type recording struct {
	net.Conn
	in, out bytes.Buffer // only one reader and one writer at a time
}

func (r *recording) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.in.Write(b[:n])
	return n, err
}

func (r *recording) Write(b []byte) (int, error) {
	r.out.Write(b)
	return r.Conn.Write(b)
}
