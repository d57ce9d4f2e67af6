package record

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

const testRelayKey = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w" // testKey(1)

func TestRelayAddrRoundTrip(t *testing.T) {
	pub, _ := testKey(1)
	for _, hp := range []string{"relay.example.org:7443", "192.0.2.1:1", "[2001:db8::1]:65535"} {
		s := FormatRelayAddr(hp, pub)
		gotHP, gotKey, err := ParseRelayAddr(s)
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		if gotHP != hp || !gotKey.Equal(pub) {
			t.Fatalf("parse %q = %q %x, want %q %x", s, gotHP, gotKey, hp, pub)
		}
		if err := ValidateAddr(s); err != nil {
			t.Fatalf("ValidateAddr(%q): %v", s, err)
		}
	}
	if s := FormatRelayAddr("h:1", pub); s != "relay://h:1/"+testRelayKey {
		t.Fatalf("format = %q, want the known base64url key %s", s, testRelayKey)
	}
}

func TestRelayAddrRefusesMalformed(t *testing.T) {
	key := testRelayKey
	for name, s := range map[string]string{
		"no key":           "relay://h:1",
		"empty key":        "relay://h:1/",
		"short key":        "relay://h:1/" + key[:42],
		"long key":         "relay://h:1/" + key + "A",
		"padded key":       "relay://h:1/" + key + "=",
		"std base64":       "relay://h:1/+" + key[1:],
		"non-canonical":    "relay://h:1/" + key[:42] + "h", // low bits of the last character set
		"no port":          "relay://h/" + key,
		"port 0":           "relay://h:0/" + key,
		"empty host":       "relay://:1/" + key,
		"space in host":    "relay://a b:1/" + key,
		"trailing slash":   "relay://h:1/" + key + "/",
		"upper scheme":     "RELAY://h:1/" + key,
		"other scheme":     "tcp://h:1/" + key,
		"long host":        "relay://" + strings.Repeat("h", 256) + ":1/" + key,
		"key before hostp": "relay://" + key + "/h:1",
	} {
		if _, _, err := ParseRelayAddr(s); !errors.Is(err, ErrBadAddr) {
			t.Errorf("%s: ParseRelayAddr(%q) = %v, want ErrBadAddr", name, s, err)
		}
		if err := ValidateAddr(s); !errors.Is(err, ErrBadAddr) {
			t.Errorf("%s: ValidateAddr(%q) = %v, want ErrBadAddr", name, s, err)
		}
	}
}

func TestRecordWithRelayAddrSignsAndVerifies(t *testing.T) {
	pub, priv := testKey(1)
	relayPub, _ := testKey(9)
	r := Record{Name: "alice", PublicKey: pub, Seq: 1, Expires: time.Unix(1700000000, 0),
		Addrs: []string{"192.0.2.1:7000", FormatRelayAddr("relay.example.org:7443", relayPub)}}
	s, err := Sign(r, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseRelayAddr checks that the parser never panics, that whatever it
// accepts is canonical (formats back to the same bytes) and that
// ValidateAddr agrees with it.
func FuzzParseRelayAddr(f *testing.F) {
	f.Add("relay://relay.example.org:7443/" + testRelayKey)
	f.Add("relay://[2001:db8::1]:1/" + testRelayKey)
	f.Add("relay://h:1/" + testRelayKey[:42] + "h")
	f.Add("relay://a/b:1/" + testRelayKey)
	f.Add("relay://h:1")
	f.Fuzz(func(t *testing.T, s string) {
		hp, key, err := ParseRelayAddr(s)
		verr := ValidateAddr(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddr) {
				t.Fatalf("error %v does not wrap ErrBadAddr", err)
			}
			if IsRelayAddr(s) && verr == nil {
				t.Fatalf("ValidateAddr accepts %q that ParseRelayAddr refuses", s)
			}
			return
		}
		if verr != nil {
			t.Fatalf("ValidateAddr refuses %q that ParseRelayAddr accepts: %v", s, verr)
		}
		if len(key) != ed25519.PublicKeySize {
			t.Fatalf("key of %d bytes", len(key))
		}
		if back := FormatRelayAddr(hp, key); back != s {
			t.Fatalf("not canonical: %q formats back as %q", s, back)
		}
		if hp2, key2, err := ParseRelayAddr(FormatRelayAddr(hp, key)); err != nil || hp2 != hp || !bytes.Equal(key2, key) {
			t.Fatalf("round trip of %q: %q %x %v", s, hp2, key2, err)
		}
	})
}
