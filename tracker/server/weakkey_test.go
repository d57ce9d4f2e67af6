package server

import (
	"crypto/ed25519"
	"net/http"
	"testing"

	"filippo.io/edwards25519"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// TestRegisterRefusesIdentityKey is finding 5 of issue 11: the identity
// point as a public key with a signature anyone can make (R = B, S = 1)
// verifies under crypto/ed25519 for every message, so whoever registered
// it, anyone could update the name afterwards. The tracker answers 400.
func TestRegisterRefusesIdentityKey(t *testing.T) {
	tt := startTracker(t, Config{})
	identity := make(ed25519.PublicKey, 32)
	identity[0] = 1
	sig := append(edwards25519.NewGeneratorPoint().Bytes(), 1)
	sig = append(sig, make([]byte, 31)...)

	rec := tt.signed(t, key(1), "mallory", 1).Record
	rec.PublicKey = identity
	if !ed25519.Verify(identity, rec.Canonical(), sig) {
		t.Fatal("the universal signature should verify under crypto/ed25519; the test is wrong")
	}
	r := tt.do(t, "POST", "/v1/users", mustJSON(t, record.Signed{Record: rec, Signature: sig}))
	if r.status != http.StatusBadRequest || r.errBody(t).Code != CodeBadKey {
		t.Fatalf("register with the identity key: %d %s, want 400 %s", r.status, r.body, CodeBadKey)
	}
	if r = tt.do(t, "GET", "/v1/users/mallory", nil); r.status != http.StatusNotFound {
		t.Fatalf("lookup after the refused registration: %d %s, want 404", r.status, r.body)
	}
}
