package store

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/ctl/api"
)

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
		valid := utf8.Valid(body) && len(body) <= api.MaxBodyBytes
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
