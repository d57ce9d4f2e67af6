package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// TestPackRoundTrip: what the cache keeps writes back exactly the JSON
// the record encodes to, whatever its addresses hold.
func TestPackRoundTrip(t *testing.T) {
	tt := &testTracker{clock: newClock()}
	base := tt.signed(t, key(1), "alice", 7)
	for _, addrs := range [][]string{
		nil, {"192.0.2.1:7000"}, {"[2001:db8::1]:7000", "[::1]:1"},
		{`a],"seq":1:2`, "x<y>&z:3", `q"uote:4`, "relay://r.example:443/" + strings.Repeat("A", 43)},
		{strings.Repeat("h", 255) + ":65535"},
	} {
		rec := base
		rec.Addrs = addrs
		rec.Seq, rec.Expires = 1<<63-1, time.Unix(-1, 0).UTC()
		want := rec.AppendJSON(nil)
		packed, ok := packRecord([]byte("x"), rec)
		if !ok || packed[0] != 'x' {
			t.Fatalf("addrs %q: not packed", addrs)
		}
		if got := unpackRecord(nil, rec.Name, packed[1:]); !bytes.Equal(got, want) {
			t.Errorf("addrs %q:\n got %s\nwant %s", addrs, got, want)
		}
		if k, err := packedKey(packed[1:]); err != nil || !bytes.Equal(k, rec.PublicKey) {
			t.Errorf("addrs %q: key %x %v", addrs, k, err)
		}
		if len(packed)-1 >= len(want)-len(rec.Name) {
			t.Errorf("packing saved nothing: %d bytes for %d", len(packed)-1, len(want))
		}
	}
	for _, bad := range []record.Signed{
		{Record: record.Record{Name: "Bad Name"}},
		{Record: record.Record{Name: "alice", Addrs: []string{strings.Repeat("a", 70000)}}},
		{Record: record.Record{Name: "alice", PublicKey: make([]byte, 300)}},
	} {
		if out, ok := packRecord([]byte("x"), bad); ok || string(out) != "x" {
			t.Errorf("packed %+v", bad.Record)
		}
	}
}
