package rowstate

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/tracker/store"
)

// FuzzAddrs: a list of addresses (s split at NUL) survives EncodeAddrs and
// DecodeAddrs unchanged, or is refused as an invalid record when not UTF-8;
// and whatever stored text DecodeAddrs accepts encodes back to text that
// decodes to the same list.
func FuzzAddrs(f *testing.F) {
	f.Add("192.0.2.1:7171\x00[2001:db8::1]:7171")
	f.Add("relay://relay.example.org:7443/iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w")
	f.Add("")
	f.Add("\xff")
	f.Add(`["a","b"]`)
	f.Add(`[]`)
	f.Add(`null`)
	f.Add(`["\ud800"]`)
	f.Fuzz(func(t *testing.T, s string) {
		var addrs []string
		if s != "" {
			addrs = strings.Split(s, "\x00")
		}
		enc, err := EncodeAddrs(addrs)
		switch {
		case !utf8.ValidString(s):
			if !errors.Is(err, store.ErrInvalidRecord) {
				t.Fatalf("EncodeAddrs(%q) = %q, %v; want ErrInvalidRecord", addrs, enc, err)
			}
		case err != nil:
			t.Fatalf("EncodeAddrs(%q): %v", addrs, err)
		default:
			if got, err := DecodeAddrs(enc); err != nil || !reflect.DeepEqual(got, addrs) {
				t.Fatalf("%q stored as %s reads back as %q, %v", addrs, enc, got, err)
			}
		}
		got, err := DecodeAddrs(s)
		if err != nil {
			return
		}
		enc, err = EncodeAddrs(got)
		if err != nil {
			t.Fatalf("decoded %q does not encode: %v", got, err)
		}
		if again, err := DecodeAddrs(enc); err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%q: decoded %q, re-encoded %s, decoded %q (%v)", s, got, enc, again, err)
		}
	})
}
