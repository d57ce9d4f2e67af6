package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"

	"go.uber.org/zap/zaptest"
)

// openTest opens a fresh store in a temporary directory, closed at cleanup,
// and checks at cleanup that Close left no goroutine behind.
func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "chatd.db")
	s, err := Open(path, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

// checkGoroutines registers a cleanup (run after later-registered cleanups,
// such as a store's Close) that fails the test if goroutines started during
// it are still running after a short settle period.
func checkGoroutines(t testing.TB) { leakcheck.Check(t) }

func newKey(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func ctxT(t testing.TB) context.Context { return t.Context() }

func bodies(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(prefix + " " + strings.Repeat("x", i%7) + string(rune('a'+i%26)))
	}
	return out
}

func incoming(n int, body string) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{ID: newMessageID(), Body: []byte(body), SentAt: time.Unix(1700000000, int64(i))}
	}
	return msgs
}

func ids(msgs []Message) [][16]byte {
	out := make([][16]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
