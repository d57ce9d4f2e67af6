package record

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"
)

// Domain separation prefixes. Each signature purpose has its own, so a
// signature can never be reused for another purpose.
const (
	recordDomain   = "p2pchat/record/v1\x00"
	rotateDomain   = "p2pchat/rotate/v1\x00"
	deleteDomain   = "p2pchat/delete/v1\x00"
	fingerprintDom = "p2pchat/fingerprint/v1\x00"
)

// Canonical returns the bytes a record signature covers:
//
//	"p2pchat/record/v1\x00"
//	u8 len(name) || name
//	public key (32 bytes)
//	u8 len(addrs), then for each: u16-BE len || addr
//	seq u64-BE
//	expires i64-BE Unix seconds
//
// The encoding is unambiguous only for records that pass Validate (which
// bounds every length); Sign and Verify validate first.
func (r Record) Canonical() []byte {
	var b bytes.Buffer
	b.WriteString(recordDomain)
	r.appendBody(&b)
	return b.Bytes()
}

func (r Record) appendBody(b *bytes.Buffer) {
	b.WriteByte(byte(len(r.Name)))
	b.WriteString(r.Name)
	b.Write(r.PublicKey)
	b.WriteByte(byte(len(r.Addrs)))
	for _, a := range r.Addrs {
		b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(a))))
		b.WriteString(a)
	}
	b.Write(binary.BigEndian.AppendUint64(nil, r.Seq))
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(r.Expires.Unix())))
}

// Sign validates r and signs it with priv, which must be the private half of
// r.PublicKey. The returned record has Expires cut to whole seconds in UTC,
// exactly what the signature covers.
func Sign(r Record, priv ed25519.PrivateKey) (Signed, error) {
	r.Expires = time.Unix(r.Expires.Unix(), 0).UTC()
	if err := r.Validate(); err != nil {
		return Signed{}, fmt.Errorf("sign record: %w", err)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return Signed{}, fmt.Errorf("sign record %q: %w: private key is %d bytes, want %d", r.Name, ErrBadKey, len(priv), ed25519.PrivateKeySize)
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), r.PublicKey) {
		return Signed{}, fmt.Errorf("sign record %q: %w: private key does not match the record's public key", r.Name, ErrBadKey)
	}
	return Signed{Record: r, Signature: ed25519.Sign(priv, r.Canonical())}, nil
}

// Verify reports whether s is a valid record signed by its own public key.
func (s Signed) Verify() error {
	if err := s.Validate(); err != nil {
		return err
	}
	// Validate has checked the key: decompressing it again would cost a
	// tenth of the verification.
	return verifyValidKey(s.PublicKey, s.Canonical(), s.Signature, "record")
}

// VerifyKnownKey is Verify for a record that may carry a key already known
// to be good, such as the key registered for its name: when s.PublicKey is
// byte for byte known, it skips ValidatePublicKey's curve checks (a tenth
// of the verification), which known passed when it was registered. Any
// other key, or a nil known, gets the whole of Verify.
func (s Signed) VerifyKnownKey(known ed25519.PublicKey) error {
	if len(known) == 0 || !bytes.Equal(s.PublicKey, known) {
		return s.Verify()
	}
	if err := s.validate(false); err != nil {
		return err
	}
	return verifyValidKey(s.PublicKey, s.Canonical(), s.Signature, "record")
}

// verify checks sig without ever panicking (ed25519.Verify panics on a
// public key of the wrong length) and refuses the keys ValidatePublicKey
// refuses: under a small-order key one signature verifies for every message.
func verify(pub ed25519.PublicKey, msg, sig []byte, what string) error {
	if err := ValidatePublicKey(pub); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return verifyValidKey(pub, msg, sig, what)
}

// verifyValidKey is verify for a key ValidatePublicKey has accepted.
func verifyValidKey(pub ed25519.PublicKey, msg, sig []byte, what string) error {
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %s signature is %d bytes, want %d", ErrBadSignature, what, len(sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("%w: %s signature does not verify", ErrBadSignature, what)
	}
	return nil
}

func rotationMessage(newRec Record) []byte {
	return append([]byte(rotateDomain), newRec.Canonical()...)
}

// SignRotation returns the old key's authorisation of a key change: a
// signature by oldPriv over "p2pchat/rotate/v1\x00" || newRec.Canonical().
// newRec is the new record, itself signed by the new key with Sign. Expires
// counts in whole seconds, as in Canonical.
//
// chatd does not rotate keys (a contact's chatd pins the first key it sees
// and has no way to learn that a rotation was authorised), so no program
// calls this: it is the signing half of the format the tracker verifies,
// kept beside VerifyRotation and the known-answer vectors for other
// clients, trackertest and the tracker's tests.
func SignRotation(newRec Record, oldPriv ed25519.PrivateKey) []byte {
	return ed25519.Sign(oldPriv, rotationMessage(newRec))
}

// VerifyRotation reports whether sig is oldPub's authorisation of newRec.
func VerifyRotation(newRec Record, sig []byte, oldPub ed25519.PublicKey) error {
	if err := newRec.Validate(); err != nil {
		return err
	}
	return verify(oldPub, rotationMessage(newRec), sig, "rotation")
}

// Deletion asks the tracker to remove Name. Seq must be greater than the
// stored record's, so a deletion cannot be replayed after a re-registration.
type Deletion struct {
	Name      string
	PublicKey ed25519.PublicKey
	Seq       uint64
}

// Validate checks the name and the key (see ValidatePublicKey).
func (d Deletion) Validate() error {
	if err := ValidateName(d.Name); err != nil {
		return err
	}
	if err := ValidatePublicKey(d.PublicKey); err != nil {
		return fmt.Errorf("public_key: %w", err)
	}
	return nil
}

// Canonical returns the bytes a deletion signature covers:
// "p2pchat/delete/v1\x00" || u8 len(name) || name || key (32) || seq u64-BE.
func (d Deletion) Canonical() []byte {
	var b bytes.Buffer
	b.WriteString(deleteDomain)
	b.WriteByte(byte(len(d.Name)))
	b.WriteString(d.Name)
	b.Write(d.PublicKey)
	b.Write(binary.BigEndian.AppendUint64(nil, d.Seq))
	return b.Bytes()
}

// SignDeletion signs d with priv (the private half of d.PublicKey).
func SignDeletion(d Deletion, priv ed25519.PrivateKey) []byte {
	return ed25519.Sign(priv, d.Canonical())
}

// VerifyDeletion reports whether sig is d.PublicKey's signature over d.
func VerifyDeletion(d Deletion, sig []byte) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return verifyValidKey(d.PublicKey, d.Canonical(), sig, "deletion")
}
