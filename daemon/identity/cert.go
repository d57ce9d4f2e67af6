package identity

import (
	"crypto/ed25519"
	"crypto/tls"

	"github.com/p2pchat/p2pchat/internal/tlsident"
)

// ErrBadPeerCert: a peer's TLS certificate is not one identity certificate.
// It is tlsident.ErrBadCert, which the relay's certificate checks return
// too.
var ErrBadPeerCert = tlsident.ErrBadCert

// TLSCertificate returns a self-signed certificate for the identity key,
// for use as the only certificate of a tls.Config (see tlsident.Certificate).
func (id *Identity) TLSCertificate() (tls.Certificate, error) {
	return tlsident.Certificate(id.Private)
}

// PeerKeyFromCerts returns the Ed25519 key of a peer's TLS certificate
// chain as crypto/tls hands it to VerifyPeerCertificate: exactly one
// certificate, with an Ed25519 key, self-signed by that key. Names and
// dates are not checked; the caller compares the key with the one it
// expects.
func PeerKeyFromCerts(rawCerts [][]byte) (ed25519.PublicKey, error) {
	return tlsident.PeerKey(rawCerts)
}
