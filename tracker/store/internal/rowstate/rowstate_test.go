package rowstate

import (
	"errors"
	"slices"
	"testing"

	"github.com/p2pchat/p2pchat/tracker/store"
)

func TestAddrsRoundTrip(t *testing.T) {
	for _, addrs := range [][]string{nil, {"127.0.0.1:1"}, {"[::1]:2", "a\"b\\c:3", "\x00:4"}} {
		s, err := EncodeAddrs(addrs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAddrs(s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, addrs) {
			t.Errorf("round trip of %q gave %q", addrs, got)
		}
	}
	if _, err := EncodeAddrs([]string{"\xff"}); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("non-UTF-8 address: err = %v, want ErrInvalidRecord", err)
	}
}

func TestWhyWriteFailed(t *testing.T) {
	k1, k2 := []byte{1}, []byte{2}
	live := Row{Found: true, PublicKey: k1, Seq: 5}
	for _, tc := range []struct {
		name string
		row  Row
		key  []byte
		seq  int64
		want error
	}{
		{"missing", Row{}, k1, 6, store.ErrNotFound},
		{"tombstone", Row{Found: true, Deleted: true, PublicKey: k1, Seq: 5}, k1, 6, store.ErrNotFound},
		{"wrong key beats stale seq", live, k2, 1, store.ErrKeyMismatch},
		{"equal seq", live, k1, 5, store.ErrStaleSeq},
		{"would succeed now", live, k1, 6, nil},
	} {
		if got := WhyWriteFailed(tc.row, tc.key, tc.seq); !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWhyCreateFailed(t *testing.T) {
	k1, k2 := []byte{1}, []byte{2}
	tomb := Row{Found: true, Deleted: true, PublicKey: k1, Seq: 5}
	for _, tc := range []struct {
		name string
		row  Row
		key  []byte
		seq  int64
		want error
	}{
		{"live", Row{Found: true, PublicKey: k1, Seq: 1}, k1, 9, store.ErrExists},
		{"replay over tombstone", tomb, k1, 5, store.ErrStaleSeq},
		{"fresh seq over tombstone", tomb, k1, 6, nil},
		{"other key over tombstone", tomb, k2, 1, nil},
		{"gone", Row{}, k1, 1, nil},
	} {
		if got := WhyCreateFailed(tc.row, tc.key, tc.seq); !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
