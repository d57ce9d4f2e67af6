// Package tlsident authenticates Ed25519 keys, not names, with TLS 1.3:
// it makes the self-signed certificate that carries a key and turns a
// peer's certificate back into its key. chatd's peer sessions
// (daemon/identity wraps it) and the relay (package relay and its server)
// both use it, so a key is presented and checked one way everywhere.
//
//	cert, err := tlsident.Certificate(priv) // the only certificate of a tls.Config
//	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
//		key, err := tlsident.PeerKey(raw)
//		if err != nil {
//			return err
//		}
//		... // compare key with the one expected
//	}
//
// Nothing in the certificate but the key matters: names, dates and chains
// are ignored (so the tls.Config sets InsecureSkipVerify and pins the key
// in VerifyPeerCertificate instead).
package tlsident

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ErrBadCert: a peer's TLS certificate is not one identity certificate.
var ErrBadCert = errors.New("bad peer certificate")

// Fixed validity: peers ignore dates (the key is what is pinned), and a
// fixed window keeps the certificate byte-for-byte deterministic, so a
// machine with a wrong clock still interoperates.
var (
	certNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	certNotAfter  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// Certificate returns a self-signed certificate for priv, for use as the
// only certificate of a tls.Config. The same key always gives the same
// certificate.
func Certificate(priv ed25519.PrivateKey) (tls.Certificate, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return tls.Certificate{}, fmt.Errorf("make identity certificate: key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	serial := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		// Positive and at most 20 octets, as RFC 5280 asks.
		SerialNumber:          new(big.Int).SetBytes(serial[:16]),
		Subject:               pkix.Name{CommonName: "p2pchat"},
		NotBefore:             certNotBefore,
		NotAfter:              certNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make identity certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse identity certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// PeerKey returns the Ed25519 key of a peer's TLS certificate chain as
// crypto/tls hands it to VerifyPeerCertificate: exactly one certificate,
// with an Ed25519 key, self-signed by that key. Names and dates are not
// checked; the caller compares the key with the one it expects.
func PeerKey(rawCerts [][]byte) (ed25519.PublicKey, error) {
	if len(rawCerts) != 1 {
		return nil, fmt.Errorf("%w: %d certificates, want 1", ErrBadCert, len(rawCerts))
	}
	cert, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || cert.PublicKeyAlgorithm != x509.Ed25519 {
		return nil, fmt.Errorf("%w: key is %v, want Ed25519", ErrBadCert, cert.PublicKeyAlgorithm)
	}
	// The TLS handshake already proves possession of the key; checking the
	// self-signature as well rejects certificates that merely copy
	// someone's public key into a blob signed by another key.
	if cert.SignatureAlgorithm != x509.PureEd25519 {
		return nil, fmt.Errorf("%w: signed with %v, want Ed25519", ErrBadCert, cert.SignatureAlgorithm)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return nil, fmt.Errorf("%w: not self-signed: %v", ErrBadCert, err)
	}
	return pub, nil
}
