// Package peertest provides what tests of chatd's defences need to play a
// stranger: a Sender is a bare peer.Manager, registered on a tracker under
// its own name and a fresh key, with an in-memory outbox of messages for
// one target and no store. It speaks the real protocol (preamble, TLS 1.3,
// frames), so the daemon under test cannot tell it from another chatd.
package peertest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/wire"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// Target is the daemon a Sender sends to.
type Target struct {
	Name string
	Key  ed25519.PublicKey
	Addr string // host:port of its peer listener
}

// Sender sends its messages to its target until they are acknowledged,
// reconnecting with a short backoff, until the test ends.
type Sender struct {
	target Target

	mu  sync.Mutex
	out []peer.OutMsg // unacknowledged, in order
}

// NewSender registers name with a fresh key on the tracker behind tc and
// starts a manager that sends n bodies of size bytes to target. It stops
// when the test ends.
func NewSender(t testing.TB, tc *client.Client, name string, target Target, n, size int) *Sender {
	t.Helper()
	id, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := record.Sign(record.Record{Name: name, PublicKey: id.Public, Addrs: []string{"127.0.0.1:9"}, Seq: 1,
		Expires: time.Now().Add(time.Hour)}, id.Private)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Register(context.Background(), signed); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	s := &Sender{target: target}
	body := []byte(strings.Repeat("x", size))
	for i := range n {
		var mid [16]byte
		rand.Read(mid[:])
		s.out = append(s.out, peer.OutMsg{Seq: int64(i + 1), Msg: wire.Msg{ID: mid, SentAt: time.Now(), Body: body}})
	}
	m, err := peer.NewManager(peer.Config{Identity: id, Name: name, ListenAddr: "127.0.0.1:0",
		Resolver: s, Authorizer: s, Handler: s, Log: zap.NewNop(),
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(context.Background()) }()
	t.Cleanup(func() { m.Close(); <-done })
	m.Notify(target.Name)
	return s
}

// Left is how many of its messages the target has not acknowledged.
func (s *Sender) Left() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.out)
}

// Resolve points every name at the target.
func (s *Sender) Resolve(context.Context, string) (ed25519.PublicKey, []string, error) {
	return s.target.Key, []string{s.target.Addr}, nil
}

// Authorize accepts whoever proved the key Resolve gave.
func (s *Sender) Authorize(context.Context, string, ed25519.PublicKey) (peer.Standing, error) {
	return peer.Contact, nil
}

// Deliver drops what the target sends.
func (s *Sender) Deliver(context.Context, string, ed25519.PublicKey, []wire.Msg) error { return nil }

// Pending returns the unacknowledged messages after afterSeq.
func (s *Sender) Pending(_ context.Context, _ string, afterSeq int64, limit int) ([]peer.OutMsg, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []peer.OutMsg
	for _, m := range s.out {
		if m.Seq > afterSeq && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

// Sent is a no-op.
func (s *Sender) Sent(context.Context, string, [][16]byte) error { return nil }

// Acked drops the acknowledged messages.
func (s *Sender) Acked(_ context.Context, _ string, ids [][16]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := make(map[[16]byte]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	kept := s.out[:0]
	for _, m := range s.out {
		if !drop[m.Msg.ID] {
			kept = append(kept, m)
		}
	}
	s.out = kept
	return nil
}

// PeerState is a no-op.
func (s *Sender) PeerState(string, bool, string, peer.Path) {}
