package relay

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/p2pchat/p2pchat/tracker/record"
)

func TestAddrRoundTrip(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
	a := Addr{HostPort: "relay.example.org:7443", Key: key}
	got, err := ParseAddr(a.String())
	if err != nil || got.HostPort != a.HostPort || !got.Key.Equal(key) {
		t.Fatalf("ParseAddr(%q) = %+v, %v", a.String(), got, err)
	}
	if _, err := ParseAddr("relay.example.org:7443"); !errors.Is(err, record.ErrBadAddr) {
		t.Fatalf("plain host:port: %v, want ErrBadAddr", err)
	}
}

func FuzzParseAddr(f *testing.F) {
	f.Add("relay://127.0.0.1:7443/iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w")
	f.Add("relay://[::1]:1/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("relay://h:1/")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("%q parses and prints as %q", s, a.String())
		}
	})
}
