package record

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"filippo.io/edwards25519"
)

// ValidatePublicKey refuses what crypto/ed25519 would accept but a record
// must not carry: a key that is not 32 bytes, an encoding that is not
// canonical, and a point of small order.
//
// A small-order key (the identity point above all) lets one signature verify
// for every message: with A = identity, R = [S]B satisfies [S]B = R + [k]A
// whatever k is. Anyone could then sign for the name, so such a key must
// never own one. Non-canonical encodings (y ≥ p, or x = 0 with the sign bit
// set) give one point several keys, so the tracker's "same key" checks could
// be dodged by re-encoding it. crypto/ed25519 and edwards25519.Point.SetBytes
// both accept them (they follow the ecosystem, not RFC 8032), so the check
// here re-encodes the point and compares.
//
// The error wraps ErrBadKey.
func ValidatePublicKey(pub []byte) error {
	if err := checkKeyLength(pub); err != nil {
		return err
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return fmt.Errorf("%w: public key is not a point on the curve", ErrBadKey)
	}
	if !bytes.Equal(p.Bytes(), pub) {
		return fmt.Errorf("%w: public key is not canonically encoded", ErrBadKey)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: public key is a point of small order", ErrBadKey)
	}
	return nil
}

// checkKeyLength is the first of ValidatePublicKey's checks, all a key
// known to have passed the others needs.
func checkKeyLength(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key is %d bytes, want %d", ErrBadKey, len(pub), ed25519.PublicKeySize)
	}
	return nil
}
