package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseMigrationName(f *testing.F) {
	for _, seed := range []string{"0001_init.sql", "0002_x.sql", "1_a.sql", "0000_zero.sql",
		"0001.sql", "_a.sql", "0001_a.txt", "-1_a.sql", "99999999999999999999_a.sql", "0x1_a.sql", "+1_a.sql"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := parseMigrationName(name)
		if err != nil {
			return
		}
		if v <= 0 {
			t.Fatalf("%q parsed as non-positive version %d", name, v)
		}
		// An accepted name always renders back to the same number.
		var n int
		var label string
		if _, err := fmt.Sscanf(name, "%d_%s", &n, &label); err != nil || n != v {
			t.Fatalf("%q parsed as %d, but reads as %d (%v)", name, v, n, err)
		}
	})
}

// FuzzReceiveRoundTrip checks that any body Receive accepts comes back
// byte for byte, that it accepts exactly the valid bodies, and that a
// redelivery is always recognised as a duplicate.
func FuzzReceiveRoundTrip(f *testing.F) {
	for _, seed := range [][]byte{nil, []byte("hi"), []byte("héllo ✓"), {0xff}, {0}, bytes.Repeat([]byte("a"), 300)} {
		f.Add(seed, int64(1700000000000000000))
	}
	s, err := Open(filepath.Join(f.TempDir(), "fuzz.db"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, body []byte, sentAt int64) {
		ctx := t.Context()
		m := Message{ID: newMessageID(), Body: body, SentAt: time.Unix(0, sentAt)}
		fresh, err := s.Receive(ctx, "fuzz", []Message{m})
		valid := utf8.Valid(body) && len(body) <= MaxBodySize
		if !valid {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("invalid body accepted or wrong error: %v", err)
			}
			return
		}
		if err != nil || !fresh[0] {
			t.Fatalf("Receive: %v %v", fresh, err)
		}
		got, err := s.Message(ctx, "fuzz", In, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body, body) || got.SentAt.UnixNano() != m.SentAt.UnixNano() && sentAt != 0 {
			t.Fatalf("round trip: got %q at %v, want %q at %v", got.Body, got.SentAt, body, m.SentAt)
		}
		if fresh, err := s.Receive(ctx, "fuzz", []Message{m}); err != nil || fresh[0] {
			t.Fatalf("redelivery: %v %v", fresh, err)
		}
	})
}
