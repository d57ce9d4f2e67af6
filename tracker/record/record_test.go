package record

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testKey(b byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

func testRecord(pub ed25519.PublicKey) Record {
	return Record{Name: "alice", PublicKey: pub, Addrs: []string{"192.0.2.1:7000", "[2001:db8::1]:7001"},
		Seq: 7, Expires: time.Unix(1700000000, 0)}
}

func TestSignVerifyRoundTripThroughJSON(t *testing.T) {
	pub, priv := testKey(1)
	s, err := Sign(testRecord(pub), priv)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSigned(enc)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	if err := got.Verify(); err != nil {
		t.Fatalf("decoded record does not verify: %v", err)
	}
	if !bytes.Equal(got.Canonical(), s.Canonical()) || !got.Expires.Equal(s.Expires) {
		t.Fatalf("round trip changed the record: %+v vs %+v", got, s)
	}
}

func TestSignDropsSubsecondExpiry(t *testing.T) {
	pub, priv := testKey(1)
	r := testRecord(pub)
	r.Expires = time.Unix(1700000000, 999_999_999)
	s, err := Sign(r, priv)
	if err != nil {
		t.Fatal(err)
	}
	if s.Expires.Nanosecond() != 0 || s.Expires.Unix() != 1700000000 {
		t.Fatalf("expires %v, want whole second 1700000000", s.Expires)
	}
	enc, _ := json.Marshal(s)
	dec, err := DecodeSigned(enc)
	if err != nil || dec.Verify() != nil || !dec.Expires.Equal(s.Expires) {
		t.Fatalf("whole-second record did not survive JSON: %v", err)
	}
}

func TestSignRefusesForeignKey(t *testing.T) {
	pub, _ := testKey(1)
	_, other := testKey(2)
	if _, err := Sign(testRecord(pub), other); !errors.Is(err, ErrBadKey) {
		t.Fatalf("sign with another key: %v, want ErrBadKey", err)
	}
	if _, err := Sign(testRecord(pub), other[:10]); !errors.Is(err, ErrBadKey) {
		t.Fatalf("sign with a short key: %v, want ErrBadKey", err)
	}
}

func TestTamperedRecordFailsVerify(t *testing.T) {
	pub, priv := testKey(1)
	otherPub, _ := testKey(2)
	s, err := Sign(testRecord(pub), priv)
	if err != nil {
		t.Fatal(err)
	}
	tampers := map[string]func(*Signed){
		"name":          func(s *Signed) { s.Name = "alicf" },
		"key":           func(s *Signed) { s.PublicKey = otherPub },
		"addr changed":  func(s *Signed) { s.Addrs = []string{"192.0.2.1:7001", s.Addrs[1]} },
		"addr dropped":  func(s *Signed) { s.Addrs = s.Addrs[:1] },
		"addr added":    func(s *Signed) { s.Addrs = append(append([]string{}, s.Addrs...), "192.0.2.9:1") },
		"addrs swapped": func(s *Signed) { s.Addrs = []string{s.Addrs[1], s.Addrs[0]} },
		"seq":           func(s *Signed) { s.Seq++ },
		"expires":       func(s *Signed) { s.Expires = s.Expires.Add(time.Second) },
		"signature":     func(s *Signed) { s.Signature[10] ^= 1 },
		"signature cut": func(s *Signed) { s.Signature = s.Signature[:63] },
	}
	for name, tamper := range tampers {
		t.Run(name, func(t *testing.T) {
			c := s
			c.Addrs = append([]string(nil), s.Addrs...)
			c.Signature = append([]byte(nil), s.Signature...)
			tamper(&c)
			if err := c.Verify(); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify after tampering with %s: %v, want ErrBadSignature", name, err)
			}
		})
	}
	if err := s.Verify(); err != nil {
		t.Fatalf("untouched record: %v", err)
	}
}

// A signature made for one purpose must not verify for any other, even when
// the signed fields coincide.
func TestDomainSeparation(t *testing.T) {
	pub, priv := testKey(1)
	rec := testRecord(pub)
	s, err := Sign(rec, priv)
	if err != nil {
		t.Fatal(err)
	}
	rot := SignRotation(rec, priv)
	del := Deletion{Name: rec.Name, PublicKey: pub, Seq: rec.Seq}
	delSig := SignDeletion(del, priv)

	if err := VerifyRotation(rec, s.Signature, pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("record signature accepted as rotation: %v", err)
	}
	if err := VerifyDeletion(del, s.Signature); !errors.Is(err, ErrBadSignature) {
		t.Errorf("record signature accepted as deletion: %v", err)
	}
	if err := (Signed{Record: rec, Signature: rot}).Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("rotation signature accepted as record: %v", err)
	}
	if err := VerifyDeletion(del, rot); !errors.Is(err, ErrBadSignature) {
		t.Errorf("rotation signature accepted as deletion: %v", err)
	}
	if err := (Signed{Record: rec, Signature: delSig}).Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("deletion signature accepted as record: %v", err)
	}
	if err := VerifyRotation(rec, delSig, pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("deletion signature accepted as rotation: %v", err)
	}
}

func TestRotation(t *testing.T) {
	oldPub, oldPriv := testKey(1)
	newPub, newPriv := testKey(2)
	rec := testRecord(newPub)
	rot := SignRotation(rec, oldPriv)
	if err := VerifyRotation(rec, rot, oldPub); err != nil {
		t.Fatalf("valid rotation: %v", err)
	}
	if err := VerifyRotation(rec, SignRotation(rec, newPriv), oldPub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("rotation signed by the new key accepted: %v", err)
	}
	rec.Seq++
	if err := VerifyRotation(rec, rot, oldPub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("rotation for another seq accepted: %v", err)
	}
	if err := VerifyRotation(rec, rot, oldPub[:31]); !errors.Is(err, ErrBadKey) {
		t.Errorf("short old key: %v, want ErrBadKey", err)
	}
}

func TestDeletion(t *testing.T) {
	pub, priv := testKey(1)
	d := Deletion{Name: "alice", PublicKey: pub, Seq: 9}
	sig := SignDeletion(d, priv)
	if err := VerifyDeletion(d, sig); err != nil {
		t.Fatalf("valid deletion: %v", err)
	}
	for name, bad := range map[string]Deletion{
		"other seq":  {Name: "alice", PublicKey: pub, Seq: 10},
		"other name": {Name: "alicf", PublicKey: pub, Seq: 9},
	} {
		if err := VerifyDeletion(bad, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if err := VerifyDeletion(Deletion{Name: "Alice", PublicKey: pub}, sig); !errors.Is(err, ErrBadName) {
		t.Errorf("bad name: %v, want ErrBadName", err)
	}
	if err := VerifyDeletion(Deletion{Name: "alice", PublicKey: pub[:5]}, sig); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v, want ErrBadKey", err)
	}
}

func TestValidateName(t *testing.T) {
	good := []string{"a", "alice", "bob-2", "x_y", "z" + strings.Repeat("9", 31)}
	bad := []string{"", "Alice", "1bob", "_x", "-x", "al ice", "al.ice", "ålice", "alicé", "a" + strings.Repeat("b", 32), "alice\x00", "ALICE"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidateName(%q) = %v, want ErrBadName", n, err)
		}
	}
}

func TestValidate(t *testing.T) {
	pub, _ := testKey(1)
	ok := testRecord(pub)
	if err := ok.Validate(); err != nil {
		t.Fatalf("good record: %v", err)
	}
	many := make([]string, MaxAddrs+1)
	for i := range many {
		many[i] = "192.0.2.1:1"
	}
	cases := []struct {
		name string
		mod  func(*Record)
		want error
	}{
		{"bad name", func(r *Record) { r.Name = "Bob" }, ErrBadName},
		{"short key", func(r *Record) { r.PublicKey = r.PublicKey[:31] }, ErrBadKey},
		{"no key", func(r *Record) { r.PublicKey = nil }, ErrBadKey},
		{"too many addrs", func(r *Record) { r.Addrs = many }, ErrBadAddr},
		{"no port", func(r *Record) { r.Addrs = []string{"192.0.2.1"} }, ErrBadAddr},
		{"port 0", func(r *Record) { r.Addrs = []string{"192.0.2.1:0"} }, ErrBadAddr},
		{"port 65536", func(r *Record) { r.Addrs = []string{"192.0.2.1:65536"} }, ErrBadAddr},
		{"named port", func(r *Record) { r.Addrs = []string{"192.0.2.1:http"} }, ErrBadAddr},
		{"empty host", func(r *Record) { r.Addrs = []string{":7000"} }, ErrBadAddr},
		{"long host", func(r *Record) { r.Addrs = []string{strings.Repeat("h", 256) + ":1"} }, ErrBadAddr},
		{"space in host", func(r *Record) { r.Addrs = []string{"a b:1"} }, ErrBadAddr},
		{"zero expiry", func(r *Record) { r.Expires = time.Time{} }, ErrBadExpiry},
		{"epoch expiry", func(r *Record) { r.Expires = time.Unix(0, 0) }, ErrBadExpiry},
	}
	for _, c := range cases {
		r := ok
		c.mod(&r)
		if err := r.Validate(); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	r := ok
	r.Addrs = []string{strings.Repeat("h", 255) + ":65535", "[::1]:1"}
	if err := r.Validate(); err != nil {
		t.Errorf("limits: %v", err)
	}
}

func TestFingerprintShape(t *testing.T) {
	a, _ := testKey(1)
	b, _ := testKey(2)
	fa := Fingerprint(a)
	if len(fa) != 39 || strings.Count(fa, "-") != 7 || strings.ToUpper(fa) != fa {
		t.Fatalf("fingerprint %q: want 8 uppercase groups of 4 joined by '-'", fa)
	}
	if fa == Fingerprint(b) {
		t.Fatal("two keys share a fingerprint")
	}
}

func BenchmarkVerify(b *testing.B) {
	pub, priv := testKey(1)
	s, err := Sign(testRecord(pub), priv)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Verify(); err != nil {
			b.Fatal(err)
		}
	}
}
