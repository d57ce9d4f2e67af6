package record

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"

	"filippo.io/edwards25519"
)

// smallOrderKeys are the canonical encodings of the eight points of order
// dividing 8 (the identity, one point of order 2, two of order 4, four of
// order 8), as listed in "Taming the many EdDSAs" (Chalkias et al., 2020).
var smallOrderKeys = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2: (0, -1)
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

// nonCanonicalKeys decode to valid points but are not the encoding
// Point.Bytes produces; crypto/ed25519 accepts them all.
var nonCanonicalKeys = []string{
	"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+3: the large-order point with y = 3
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+18 = 2^255-1
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1: the identity again
	"0100000000000000000000000000000000000000000000000000000000000080", // identity with x = -0
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // (0, -1) with x = -0
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSmallOrderKeyVectors checks the vectors themselves: eight distinct
// valid points that the cofactor sends to the identity.
func TestSmallOrderKeyVectors(t *testing.T) {
	seen := map[string]bool{}
	for _, h := range smallOrderKeys {
		p, err := new(edwards25519.Point).SetBytes(mustHex(t, h))
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) != 1 {
			t.Errorf("%s is not of small order", h)
		}
		if hex.EncodeToString(p.Bytes()) != h || seen[h] {
			t.Errorf("%s: not canonical or listed twice", h)
		}
		seen[h] = true
	}
}

func TestValidatePublicKeyRefusesSmallOrder(t *testing.T) {
	for _, h := range smallOrderKeys {
		wantBadKey(t, h, ValidatePublicKey(mustHex(t, h)))
	}
}

func TestValidatePublicKeyRefusesNonCanonical(t *testing.T) {
	for _, h := range nonCanonicalKeys {
		key := mustHex(t, h)
		if _, err := new(edwards25519.Point).SetBytes(key); err != nil {
			t.Fatalf("%s should decode (laxly) to a point: %v", h, err)
		}
		wantBadKey(t, h, ValidatePublicKey(key))
	}
}

func TestValidatePublicKeyAcceptsRealKeys(t *testing.T) {
	for b := range byte(16) {
		pub, _ := testKey(b)
		if err := ValidatePublicKey(pub); err != nil {
			t.Errorf("key %x: %v", pub, err)
		}
	}
	for _, n := range []int{0, 31, 33} {
		wantBadKey(t, "length", ValidatePublicKey(make([]byte, n)))
	}
}

// universalSignature verifies under the identity key for every message:
// R = [1]B, S = 1, and [S]B = R + [k]·identity whatever k is.
func universalSignature() []byte {
	sig := append([]byte(nil), edwards25519.NewGeneratorPoint().Bytes()...)
	s := make([]byte, 32)
	s[0] = 1
	return append(sig, s...)
}

// TestUniversalSignatureRefused is the attack from issue 11: a record under
// the identity key with a signature anyone can make. crypto/ed25519 accepts
// it; every verifier in this package must not.
func TestUniversalSignatureRefused(t *testing.T) {
	identity := ed25519.PublicKey(mustHex(t, smallOrderKeys[0]))
	sig := universalSignature()
	rec := testRecord(identity)
	if !ed25519.Verify(identity, rec.Canonical(), sig) || !ed25519.Verify(identity, []byte("anything"), sig) {
		t.Fatal("the universal signature should verify under crypto/ed25519; the test is wrong")
	}
	wantBadKey(t, "Signed.Verify", Signed{Record: rec, Signature: sig}.Verify())
	wantBadKey(t, "Record.Validate", rec.Validate())

	// As the old key of a rotation: anyone could take over the name.
	newPub, _ := testKey(2)
	wantBadKey(t, "VerifyRotation", VerifyRotation(testRecord(newPub), sig, identity))

	d := Deletion{Name: "alice", PublicKey: identity, Seq: 9}
	if !ed25519.Verify(identity, d.Canonical(), sig) {
		t.Fatal("the universal signature should verify the deletion under crypto/ed25519")
	}
	wantBadKey(t, "VerifyDeletion", VerifyDeletion(d, sig))
}

// TestSmallOrderKeysRefusedInRecords runs every weak key through each
// signed message the tracker accepts.
func TestSmallOrderKeysRefusedInRecords(t *testing.T) {
	sig := universalSignature()
	newPub, _ := testKey(3)
	for _, h := range append(append([]string(nil), smallOrderKeys...), nonCanonicalKeys...) {
		key := ed25519.PublicKey(mustHex(t, h))
		wantBadKey(t, h+" record", Signed{Record: testRecord(key), Signature: sig}.Verify())
		wantBadKey(t, h+" rotation", VerifyRotation(testRecord(newPub), sig, key))
		wantBadKey(t, h+" deletion", VerifyDeletion(Deletion{Name: "alice", PublicKey: key, Seq: 1}, sig))
	}
}

// TestVerifyKnownKey: the curve checks are skipped only for the key the
// caller vouches for; every other key, or none, gets them.
func TestVerifyKnownKey(t *testing.T) {
	pub, priv := testKey(1)
	good, err := Sign(testRecord(pub), priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, known := range []ed25519.PublicKey{pub, nil} {
		if err := good.VerifyKnownKey(known); err != nil {
			t.Errorf("VerifyKnownKey(%x) of a good record: %v", known, err)
		}
	}
	bad := good
	bad.Seq++
	if err := bad.VerifyKnownKey(pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyKnownKey of a record whose signature does not verify: %v, want ErrBadSignature", err)
	}
	sig := universalSignature()
	for _, h := range append(append([]string(nil), smallOrderKeys...), nonCanonicalKeys...) {
		weak := Signed{Record: testRecord(ed25519.PublicKey(mustHex(t, h))), Signature: sig}
		wantBadKey(t, h+" unknown", weak.VerifyKnownKey(nil))
		wantBadKey(t, h+" not the known key", weak.VerifyKnownKey(pub))
	}
	short := Signed{Record: testRecord(pub[:31]), Signature: good.Signature}
	wantBadKey(t, "a 31-byte key", short.VerifyKnownKey(pub[:31]))
}

func wantBadKey(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrBadKey) {
		t.Errorf("%s: got %v, want an error wrapping ErrBadKey", what, err)
	}
}

// FuzzValidatePublicKey checks that an accepted key is a canonical point of
// large order (so the universal signature never verifies under it) and that
// nothing panics.
func FuzzValidatePublicKey(f *testing.F) {
	for _, h := range append(append([]string(nil), smallOrderKeys...), nonCanonicalKeys...) {
		f.Add(mustHex(f, h))
	}
	pub, _ := testKey(1)
	f.Add([]byte(pub))
	f.Add([]byte{1, 2, 3})
	sig := universalSignature()
	f.Fuzz(func(t *testing.T, key []byte) {
		if ValidatePublicKey(key) != nil {
			return
		}
		p, err := new(edwards25519.Point).SetBytes(key)
		if err != nil || !bytes.Equal(p.Bytes(), key) {
			t.Fatalf("accepted %x, which is not a canonical point", key)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
			t.Fatalf("accepted %x, of small order", key)
		}
		if ed25519.Verify(key, []byte("any message"), sig) {
			t.Fatalf("the universal signature verifies under accepted key %x", key)
		}
	})
}
