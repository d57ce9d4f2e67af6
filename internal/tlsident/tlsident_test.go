package tlsident

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"
)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func TestCertificateRoundTrip(t *testing.T) {
	priv := testKey(1)
	cert, err := Certificate(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PeerKey(cert.Certificate)
	if err != nil {
		t.Fatalf("PeerKey(own cert): %v", err)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("certificate carries a different key")
	}
	again, _ := Certificate(priv)
	if !bytes.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Error("certificate is not deterministic")
	}
	if _, err := Certificate(priv[:32]); err == nil {
		t.Error("a 32-byte private key made a certificate")
	}
}

// TestHandshakePinsKey runs TLS 1.3 with the certificates on both sides,
// each pinning the other's key: the handshake succeeds with the right
// keys and fails on the client with the wrong one.
func TestHandshakePinsKey(t *testing.T) {
	server, client := testKey(1), testKey(2)
	for _, tc := range []struct {
		name string
		want ed25519.PublicKey
		ok   bool
	}{
		{"right key", server.Public().(ed25519.PublicKey), true},
		{"wrong key", testKey(3).Public().(ed25519.PublicKey), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errPinned := errors.New("not the pinned key")
			cfg := func(me ed25519.PrivateKey, want ed25519.PublicKey) *tls.Config {
				cert, err := Certificate(me)
				if err != nil {
					t.Fatal(err)
				}
				return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
					ClientAuth: tls.RequireAnyClientCert, InsecureSkipVerify: true, SessionTicketsDisabled: true,
					VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
						k, err := PeerKey(raw)
						if err == nil && !k.Equal(want) {
							err = errPinned
						}
						return err
					}}
			}
			a, b := tcpPair(t)
			srv := tls.Server(a, cfg(server, client.Public().(ed25519.PublicKey)))
			done := make(chan error, 1)
			go func() { done <- srv.Handshake(); a.Close() }()
			err := tls.Client(b, cfg(client, tc.want)).Handshake()
			b.Close()
			<-done
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, errPinned)) {
				t.Fatalf("handshake: %v", err)
			}
		})
	}
}

func TestPeerKeyRefuses(t *testing.T) {
	alice, mallory := testKey(1), testKey(2)
	good, _ := Certificate(alice)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	ecCert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	forged := forgedCert(t, alice.Public().(ed25519.PublicKey), mallory)
	for name, certs := range map[string][][]byte{
		"none":            nil,
		"two":             {good.Certificate[0], good.Certificate[0]},
		"garbage":         {[]byte("junk")},
		"ecdsa key":       {ecCert},
		"signed by other": {forged},
	} {
		if _, err := PeerKey(certs); !errors.Is(err, ErrBadCert) {
			t.Errorf("%s: err = %v, want ErrBadCert", name, err)
		}
	}
}

// forgedCert is pub in a certificate signed by signer.
func forgedCert(t testing.TB, pub ed25519.PublicKey, signer ed25519.PrivateKey) []byte {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: certNotBefore, NotAfter: certNotAfter}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// FuzzPeerKey: PeerKey never panics, every refusal matches ErrBadCert,
// and a key it accepts is the certificate's own key, whose signature over
// the certificate verifies.
func FuzzPeerKey(f *testing.F) {
	good, _ := Certificate(testKey(1))
	f.Add(good.Certificate[0])
	f.Add(forgedCert(f, testKey(1).Public().(ed25519.PublicKey), testKey(2)))
	f.Add(good.Certificate[0][:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		key, err := PeerKey([][]byte{der})
		if err != nil {
			if !errors.Is(err, ErrBadCert) {
				t.Fatalf("error %v is not ErrBadCert", err)
			}
			return
		}
		cert, perr := x509.ParseCertificate(der)
		if perr != nil {
			t.Fatalf("accepted a certificate x509 cannot parse: %v", perr)
		}
		if !key.Equal(cert.PublicKey) || !ed25519.Verify(key, cert.RawTBSCertificate, cert.Signature) {
			t.Fatal("accepted a certificate not self-signed by its key")
		}
	})
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
