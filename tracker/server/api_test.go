package server

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

func TestRegisterLookupUpdateDelete(t *testing.T) {
	tt := startTracker(t, Config{})
	alice := key(1)
	rec := tt.signed(t, alice, "alice", 1)

	r := tt.do(t, "POST", "/v1/users", mustJSON(t, rec))
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	u := r.userBody(t)
	if u.Record == nil || u.Record.Verify() != nil || u.Record.Name != "alice" {
		t.Fatalf("register answered %s, want the verified record", r.body)
	}
	host, _, err := net.SplitHostPort(u.ObservedAddr)
	if err != nil || host != "127.0.0.1" || strings.HasSuffix(u.ObservedAddr, ":0") {
		t.Errorf("observed_addr %q, want 127.0.0.1 and the client's port", u.ObservedAddr)
	}
	// An hour left, a third of it is 20 minutes, capped at ReannounceMax (1h).
	if u.ReannounceAfter != 20*60 {
		t.Errorf("reannounce_after %d, want %d", u.ReannounceAfter, 20*60)
	}

	r = tt.do(t, "GET", "/v1/users/alice", nil)
	if r.status != http.StatusOK {
		t.Fatalf("lookup: %d %s", r.status, r.body)
	}
	if got := r.userBody(t).Record; got == nil || got.Verify() != nil || !bytes.Equal(got.Signature, rec.Signature) {
		t.Fatalf("lookup returned %s, want the registered record", r.body)
	}

	upd := tt.signed(t, alice, "alice", 2)
	upd.Addrs = nil
	upd, _ = record.Sign(upd.Record, alice)
	if r = tt.do(t, "PUT", "/v1/users/alice", updateBody(t, upd, nil)); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if got := tt.do(t, "GET", "/v1/users/alice", nil).userBody(t).Record; got.Seq != 2 || len(got.Addrs) != 0 {
		t.Fatalf("after update lookup says seq %d addrs %v, want seq 2 and no addrs", got.Seq, got.Addrs)
	}

	if r = tt.do(t, "DELETE", "/v1/users/alice", deleteBody(t, alice, "alice", 3)); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r = tt.do(t, "GET", "/v1/users/alice", nil); r.status != http.StatusNotFound || r.errBody(t).Code != CodeNotFound {
		t.Fatalf("lookup after delete: %d %s, want 404 not_found", r.status, r.body)
	}
}

// TestBadRequests sends every class of bad input through a real listener
// and checks the status and error code a client would branch on.
func TestBadRequests(t *testing.T) {
	tt := startTracker(t, Config{MaxTTL: 2 * time.Hour, RateLimit: 1000, RateBurst: 1000})
	alice, bob := key(1), key(2)
	stored := tt.signed(t, alice, "alice", 5)
	tt.register(t, stored)

	valid := string(mustJSON(t, tt.signed(t, bob, "bob", 1)))
	replace := func(old, new string) []byte { return []byte(strings.Replace(valid, old, new, 1)) }
	withRec := func(mod func(*record.Record), priv []byte) []byte {
		r := tt.signed(t, bob, "bob", 1).Record
		mod(&r)
		s, err := record.Sign(r, bob)
		if err != nil {
			s = record.Signed{Record: r, Signature: make([]byte, 64)}
		}
		return mustJSON(t, s)
	}
	badSig := tt.signed(t, bob, "bob", 1)
	badSig.Signature[0] ^= 1
	alice5 := tt.signed(t, alice, "alice", 5)
	alice6 := tt.signed(t, alice, "alice", 6)
	bobAsAlice := tt.signed(t, bob, "alice", 6)
	bobAsAlice7 := tt.signed(t, bob, "alice", 7)
	aliceSays := func(s record.Signed) []byte { return record.SignRotation(s.Record, alice) }

	cases := []struct {
		name, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"uppercase name", "GET", "/v1/users/Alice", nil, 400, CodeBadName},
		{"name too long", "GET", "/v1/users/" + strings.Repeat("a", 33), nil, 400, CodeBadName},
		{"unicode name", "GET", "/v1/users/%C3%A5lice", nil, 400, CodeBadName},
		{"name with digit first", "GET", "/v1/users/1alice", nil, 400, CodeBadName},
		{"empty name", "GET", "/v1/users/", nil, 404, CodeNoRoute},
		{"register uppercase", "POST", "/v1/users", withRec(func(r *record.Record) { r.Name = "Bob" }, nil), 400, CodeBadName},
		{"register empty name", "POST", "/v1/users", withRec(func(r *record.Record) { r.Name = "" }, nil), 400, CodeBadName},
		{"register unicode", "POST", "/v1/users", withRec(func(r *record.Record) { r.Name = "bøb" }, nil), 400, CodeBadName},
		{"oversized body", "POST", "/v1/users", bytes.Repeat([]byte(" "), 9000), 413, CodeTooLarge},
		{"oversized update", "PUT", "/v1/users/alice", bytes.Repeat([]byte(" "), 9000), 413, CodeTooLarge},
		{"empty body", "POST", "/v1/users", nil, 400, CodeBadJSON},
		{"malformed json", "POST", "/v1/users", []byte(valid[:40]), 400, CodeBadJSON},
		{"unknown field", "POST", "/v1/users", replace(`"seq"`, `"admin":true,"seq"`), 400, CodeBadJSON},
		{"two values", "POST", "/v1/users", []byte(valid + valid), 400, CodeBadJSON},
		{"bad base64", "POST", "/v1/users", replace(`"public_key":"`, `"public_key":"*`), 400, CodeBadBase64},
		{"short key", "POST", "/v1/users", withRec(func(r *record.Record) { r.PublicKey = r.PublicKey[:16] }, nil), 400, CodeBadKey},
		{"bad addr", "POST", "/v1/users", withRec(func(r *record.Record) { r.Addrs = []string{"nohost"} }, nil), 400, CodeBadAddr},
		{"bad signature", "POST", "/v1/users", mustJSON(t, badSig), 403, CodeBadSignature},
		{"expired on arrival", "POST", "/v1/users", withRec(func(r *record.Record) { r.Expires = tt.clock.Now().Add(-time.Second) }, nil), 400, CodeBadExpires},
		{"expires beyond max ttl", "POST", "/v1/users", withRec(func(r *record.Record) { r.Expires = tt.clock.Now().Add(3 * time.Hour) }, nil), 400, CodeBadExpires},
		{"seq beyond int64", "POST", "/v1/users", withRec(func(r *record.Record) { r.Seq = 1 << 63 }, nil), 400, CodeBadSeq},
		{"name taken", "POST", "/v1/users", mustJSON(t, tt.signed(t, bob, "alice", 1)), 409, CodeNameTaken},
		{"unknown user lookup", "GET", "/v1/users/nobody", nil, 404, CodeNotFound},
		{"unknown user update", "PUT", "/v1/users/nobody", updateBody(t, tt.signed(t, bob, "nobody", 2), nil), 404, CodeNotFound},
		{"unknown user delete", "DELETE", "/v1/users/nobody", deleteBody(t, bob, "nobody", 2), 404, CodeNotFound},
		{"update missing record", "PUT", "/v1/users/alice", []byte(`{}`), 400, CodeBadJSON},
		{"update name mismatch", "PUT", "/v1/users/alice", updateBody(t, tt.signed(t, alice, "alicia", 6), nil), 400, CodeNameMismatch},
		{"stale seq", "PUT", "/v1/users/alice", updateBody(t, alice5, nil), 409, CodeStaleSeq},
		{"wrong key update", "PUT", "/v1/users/alice", updateBody(t, bobAsAlice, nil), 403, CodeKeyMismatch},
		{"rotation signed by new key", "PUT", "/v1/users/alice", updateBody(t, bobAsAlice, record.SignRotation(bobAsAlice.Record, bob)), 403, CodeBadSignature},
		{"rotation for other record", "PUT", "/v1/users/alice", updateBody(t, bobAsAlice, aliceSays(bobAsAlice7)), 403, CodeBadSignature},
		{"rotation bad base64", "PUT", "/v1/users/alice", []byte(`{"record":` + string(mustJSON(t, bobAsAlice)) + `,"rotation_signature":"%%"}`), 400, CodeBadBase64},
		{"rotation with same key", "PUT", "/v1/users/alice", updateBody(t, alice6, aliceSays(alice6)), 400, CodeBadRotation},
		{"wrong key delete", "DELETE", "/v1/users/alice", deleteBody(t, bob, "alice", 9), 403, CodeKeyMismatch},
		{"stale delete", "DELETE", "/v1/users/alice", deleteBody(t, alice, "alice", 5), 409, CodeStaleSeq},
		{"delete missing fields", "DELETE", "/v1/users/alice", []byte(`{"seq":9}`), 400, CodeBadJSON},
		{"delete short key", "DELETE", "/v1/users/alice", []byte(`{"public_key":"AAAA","seq":9,"signature":"` + strings.Repeat("A", 86) + `=="}`), 400, CodeBadKey},
		{"delete bad signature", "DELETE", "/v1/users/alice", mustJSON(t, map[string]any{"public_key": []byte(pubOf(alice)), "seq": 9, "signature": make([]byte, 64)}), 403, CodeBadSignature},
		{"no such route", "GET", "/v2/users/alice", nil, 404, CodeNoRoute},
		{"wrong method", "PATCH", "/v1/users/alice", nil, 404, CodeNoRoute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tt.do(t, c.method, c.path, c.body)
			e := r.errBody(t)
			if r.status != c.status || e.Code != c.code {
				t.Fatalf("%s %s: %d %q, want %d %q (body %s)", c.method, c.path, r.status, e.Code, c.status, c.code, r.body)
			}
			if e.Error == "" || strings.ToLower(e.Error[:1]) != e.Error[:1] {
				t.Errorf("error message %q should be a lower-case sentence", e.Error)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
	// None of the above may have changed alice's record.
	got := tt.do(t, "GET", "/v1/users/alice", nil).userBody(t).Record
	if got == nil || !bytes.Equal(got.Signature, stored.Signature) {
		t.Fatalf("bad requests changed alice's record: %+v", got)
	}
}

// Sending the exact same update twice must not apply it twice: the second
// is a replay and is refused.
func TestReplayedUpdateRefused(t *testing.T) {
	tt := startTracker(t, Config{})
	alice := key(1)
	tt.register(t, tt.signed(t, alice, "alice", 1))
	body := updateBody(t, tt.signed(t, alice, "alice", 2), nil)
	if r := tt.do(t, "PUT", "/v1/users/alice", body); r.status != http.StatusOK {
		t.Fatalf("first update: %d %s", r.status, r.body)
	}
	r := tt.do(t, "PUT", "/v1/users/alice", body)
	if r.status != http.StatusConflict || r.errBody(t).Code != CodeStaleSeq {
		t.Fatalf("replayed update: %d %s, want 409 stale_seq", r.status, r.body)
	}
}

func TestDeletedRegistrationCannotBeReplayed(t *testing.T) {
	tt := startTracker(t, Config{})
	alice := key(1)
	reg := mustJSON(t, tt.signed(t, alice, "alice", 1))
	if r := tt.do(t, "POST", "/v1/users", reg); r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := tt.do(t, "DELETE", "/v1/users/alice", deleteBody(t, alice, "alice", 2)); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := tt.do(t, "POST", "/v1/users", reg); r.status != http.StatusConflict || r.errBody(t).Code != CodeStaleSeq {
		t.Fatalf("replayed registration after delete: %d %s, want 409 stale_seq", r.status, r.body)
	}
	tt.register(t, tt.signed(t, alice, "alice", 3))
}

func TestKeyRotation(t *testing.T) {
	tt := startTracker(t, Config{})
	oldKey, newKey := key(1), key(2)
	tt.register(t, tt.signed(t, oldKey, "alice", 1))

	rotated := tt.signed(t, newKey, "alice", 2)
	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, rotated, nil)); r.status != http.StatusForbidden || r.errBody(t).Code != CodeKeyMismatch {
		t.Fatalf("rotation without rotation_signature: %d %s, want 403 key_mismatch", r.status, r.body)
	}
	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, rotated, record.SignRotation(rotated.Record, oldKey))); r.status != http.StatusOK {
		t.Fatalf("rotation: %d %s", r.status, r.body)
	}
	got := tt.do(t, "GET", "/v1/users/alice", nil).userBody(t).Record
	if !got.PublicKey.Equal(pubOf(newKey)) {
		t.Fatal("lookup after rotation does not show the new key")
	}
	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, tt.signed(t, oldKey, "alice", 3), nil)); r.status != http.StatusForbidden {
		t.Fatalf("old key updating after rotation: %d %s, want 403", r.status, r.body)
	}
	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, tt.signed(t, newKey, "alice", 3), nil)); r.status != http.StatusOK {
		t.Fatalf("new key updating after rotation: %d %s", r.status, r.body)
	}
}

func TestExpiredLookupIsGoneWithRecord(t *testing.T) {
	tt := startTracker(t, Config{})
	alice := key(1)
	rec := tt.signed(t, alice, "alice", 1)
	tt.register(t, rec)
	tt.clock.Advance(time.Hour)

	r := tt.do(t, "GET", "/v1/users/alice", nil)
	e := r.errBody(t)
	if r.status != http.StatusGone || e.Code != CodeExpired {
		t.Fatalf("lookup of expired record: %d %s, want 410 expired", r.status, r.body)
	}
	if e.Record == nil || e.Record.Verify() != nil || !bytes.Equal(e.Record.Signature, rec.Signature) {
		t.Fatalf("410 body %s should carry the signed record", r.body)
	}
	// The owner can come back and refresh it.
	fresh := tt.signed(t, alice, "alice", 2)
	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, fresh, nil)); r.status != http.StatusOK {
		t.Fatalf("refresh of an expired record: %d %s", r.status, r.body)
	}
	if r := tt.do(t, "GET", "/v1/users/alice", nil); r.status != http.StatusOK {
		t.Fatalf("lookup after refresh: %d %s", r.status, r.body)
	}
}

// TestUpdateWithBadSignatureRefused sends updates whose record signature
// does not verify, with the registered key and with a key change carrying
// a valid rotation signature: both must be refused and the stored record
// left as it was. (TestBadRequests covers a bad signature on POST only.)
func TestUpdateWithBadSignatureRefused(t *testing.T) {
	tt := startTracker(t, Config{})
	alice, newKey := key(1), key(2)
	stored := tt.signed(t, alice, "alice", 1)
	tt.register(t, stored)

	sameKey := tt.signed(t, alice, "alice", 2)
	sameKey.Addrs = []string{"198.51.100.9:7000"} // what the signature does not cover
	rotated := tt.signed(t, newKey, "alice", 3)
	rotation := record.SignRotation(rotated.Record, alice)
	rotated.Signature[0] ^= 1
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"same key, changed after signing", updateBody(t, sameKey, nil)},
		{"new key, valid rotation signature", updateBody(t, rotated, rotation)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := tt.do(t, "PUT", "/v1/users/alice", c.body)
			if r.status != http.StatusForbidden || r.errBody(t).Code != CodeBadSignature {
				t.Errorf("PUT with a bad record signature: %d %s, want 403 %s", r.status, r.body, CodeBadSignature)
			}
			got := tt.do(t, "GET", "/v1/users/alice", nil).userBody(t).Record
			if got == nil || got.Seq != stored.Seq || !bytes.Equal(got.Signature, stored.Signature) {
				t.Fatalf("stored record changed to %+v, want seq %d as registered", got, stored.Seq)
			}
		})
	}
}
