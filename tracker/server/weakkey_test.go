package server

import (
	"crypto/ed25519"
	"net/http"
	"testing"

	"filippo.io/edwards25519"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// identitySigned returns name's record at seq under the identity point as
// its public key, with a signature anyone can make (R = B, S = 1): it
// verifies under crypto/ed25519 for every message.
func (tt *testTracker) identitySigned(t *testing.T, name string, seq uint64) record.Signed {
	t.Helper()
	identity := make(ed25519.PublicKey, 32)
	identity[0] = 1
	sig := append(edwards25519.NewGeneratorPoint().Bytes(), 1)
	sig = append(sig, make([]byte, 31)...)
	rec := tt.signed(t, key(1), name, seq).Record
	rec.PublicKey = identity
	if !ed25519.Verify(identity, rec.Canonical(), sig) {
		t.Fatal("the universal signature should verify under crypto/ed25519; the test is wrong")
	}
	return record.Signed{Record: rec, Signature: sig}
}

// TestRegisterRefusesIdentityKey is finding 5 of issue 11: the identity
// point as a public key with a signature anyone can make (R = B, S = 1)
// verifies under crypto/ed25519 for every message, so whoever registered
// it, anyone could update the name afterwards. The tracker answers 400.
func TestRegisterRefusesIdentityKey(t *testing.T) {
	tt := startTracker(t, Config{})
	r := tt.do(t, "POST", "/v1/users", mustJSON(t, tt.identitySigned(t, "mallory", 1)))
	if r.status != http.StatusBadRequest || r.errBody(t).Code != CodeBadKey {
		t.Fatalf("register with the identity key: %d %s, want 400 %s", r.status, r.body, CodeBadKey)
	}
	if r = tt.do(t, "GET", "/v1/users/mallory", nil); r.status != http.StatusNotFound {
		t.Fatalf("lookup after the refused registration: %d %s, want 404", r.status, r.body)
	}
}

// TestKeyChangeRefusesIdentityKey: an update skips the curve checks only
// for the key already registered (record.VerifyKnownKey); a change to a
// small-order key is refused even with a valid rotation signature by the
// registered key, and the registered key stays.
func TestKeyChangeRefusesIdentityKey(t *testing.T) {
	tt := startTracker(t, Config{})
	tt.register(t, tt.signed(t, key(1), "alice", 1))
	weak := tt.identitySigned(t, "alice", 2)
	for _, tc := range []struct {
		name     string
		rotation []byte
	}{
		{"without rotation signature", nil},
		{"with a valid rotation signature", record.SignRotation(weak.Record, key(1))},
	} {
		r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, weak, tc.rotation))
		if r.status != http.StatusBadRequest || r.errBody(t).Code != CodeBadKey {
			t.Fatalf("key change to the identity key %s: %d %s, want 400 %s", tc.name, r.status, r.body, CodeBadKey)
		}
	}
	r := tt.do(t, "GET", "/v1/users/alice", nil)
	if r.status != http.StatusOK || !r.userBody(t).Record.PublicKey.Equal(pubOf(key(1))) {
		t.Fatalf("lookup after the refused key changes: %d %s, want alice's first key", r.status, r.body)
	}
	// The registered key still updates.
	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, tt.signed(t, key(1), "alice", 3), nil)); r.status != http.StatusOK {
		t.Fatalf("update under the registered key: %d %s", r.status, r.body)
	}
}
