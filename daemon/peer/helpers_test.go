package peer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/wire"
	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// memHandler is an in-memory Handler: an outbox per peer and a received
// log that de-duplicates by ID, as the real store does.
type memHandler struct {
	mu       sync.Mutex
	seq      int64
	outbox   map[string][]OutMsg   // unacked, in Seq order
	received map[string][]wire.Msg // first deliveries, in order
	seen     map[[16]byte]bool
	dupes    int
	states   []string // "bob up", "bob down"
	refused  []error
	failNext atomic.Int32     // Deliver calls to fail
	sentOnce map[[16]byte]int // how often each ID was written to a session
}

func newMemHandler() *memHandler {
	return &memHandler{
		outbox: map[string][]OutMsg{}, received: map[string][]wire.Msg{},
		seen: map[[16]byte]bool{}, sentOnce: map[[16]byte]int{},
	}
}

func (h *memHandler) enqueue(peer string, body string) [16]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	var id [16]byte
	rand.Read(id[:])
	h.outbox[peer] = append(h.outbox[peer], OutMsg{Seq: h.seq, Msg: wire.Msg{ID: id, SentAt: time.Now(), Body: []byte(body)}})
	return id
}

func (h *memHandler) Deliver(ctx context.Context, peer string, _ ed25519.PublicKey, msgs []wire.Msg) error {
	if h.failNext.Load() > 0 && h.failNext.Add(-1) >= 0 {
		return errors.New("disk full")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		if h.seen[m.ID] {
			h.dupes++
			continue
		}
		h.seen[m.ID] = true
		h.received[peer] = append(h.received[peer], m)
	}
	return nil
}

func (h *memHandler) Pending(ctx context.Context, peer string, after int64, limit int) ([]OutMsg, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []OutMsg
	for _, o := range h.outbox[peer] {
		if o.Seq > after && len(out) < limit {
			out = append(out, o)
		}
	}
	return out, nil
}

func (h *memHandler) Sent(ctx context.Context, peer string, ids [][16]byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		h.sentOnce[id]++
	}
	return nil
}

func (h *memHandler) Acked(ctx context.Context, peer string, ids [][16]byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.outbox[peer] = slices.DeleteFunc(h.outbox[peer], func(o OutMsg) bool {
		return slices.Contains(ids, o.Msg.ID)
	})
	return nil
}

func (h *memHandler) PeerState(peer string, up bool, addr string, path Path) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.states = append(h.states, fmt.Sprintf("%s %s", peer, map[bool]string{true: "up", false: "down"}[up]))
}

func (h *memHandler) Refused(peer string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refused = append(h.refused, err)
}

func (h *memHandler) bodies(peer string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.received[peer] {
		out = append(out, string(m.Body))
	}
	return out
}

func (h *memHandler) unacked(peer string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.outbox[peer])
}

func (h *memHandler) refusals() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.refused)
}

func (h *memHandler) stateLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.states)
}

// directory plays the tracker: names to keys and addresses. Each node's
// Resolver/Authorizer reads it, with the node's own pins on top.
type directory struct {
	mu    sync.Mutex
	keys  map[string]ed25519.PublicKey
	addrs map[string]string
}

func newDirectory() *directory {
	return &directory{keys: map[string]ed25519.PublicKey{}, addrs: map[string]string{}}
}

func (d *directory) set(name string, key ed25519.PublicKey, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys[name], d.addrs[name] = key, addr
}

// trust is one node's view: the directory plus pins (trust on first use).
type trust struct {
	dir       *directory
	mu        sync.Mutex
	pins      map[string]ed25519.PublicKey
	strangers map[string]bool // names Authorize calls strangers (not pinned)
}

func (tr *trust) Resolve(ctx context.Context, name string) (ed25519.PublicKey, []string, error) {
	tr.dir.mu.Lock()
	key, addr := tr.dir.keys[name], tr.dir.addrs[name]
	tr.dir.mu.Unlock()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if pin := tr.pins[name]; pin != nil {
		key = pin
	}
	if key == nil {
		return nil, nil, fmt.Errorf("unknown user %q", name)
	}
	return key, []string{addr}, nil
}

func (tr *trust) Authorize(ctx context.Context, name string, pub ed25519.PublicKey) (Standing, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	want := tr.pins[name]
	if want == nil {
		tr.dir.mu.Lock()
		want = tr.dir.keys[name]
		tr.dir.mu.Unlock()
	}
	if want == nil {
		return Contact, fmt.Errorf("unknown user %q", name)
	}
	if !want.Equal(pub) {
		return Contact, &KeyMismatchError{Name: name, Want: want, Got: pub}
	}
	if tr.strangers[name] {
		return Stranger, nil
	}
	tr.pins[name] = pub
	return Contact, nil
}

func (tr *trust) pin(name string, key ed25519.PublicKey) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.pins[name] = key
}

type node struct {
	name  string
	id    *identity.Identity
	h     *memHandler
	trust *trust
	m     *Manager
}

type nodeOpt func(*Config)

func fastTimers(c *Config) {
	c.KeepAlive = time.Second
	c.BackoffMin = 10 * time.Millisecond
	c.BackoffMax = 200 * time.Millisecond
	c.HandshakeTimeout = 5 * time.Second
}

// newNode starts a manager on 127.0.0.1 and lists it in dir. It is closed,
// and its Run awaited, when the test ends.
func newNode(t testing.TB, dir *directory, name string, opts ...nodeOpt) *node {
	t.Helper()
	id, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return newNodeWithIdentity(t, dir, name, id, opts...)
}

func newNodeWithIdentity(t testing.TB, dir *directory, name string, id *identity.Identity, opts ...nodeOpt) *node {
	t.Helper()
	var err error
	n := &node{name: name, id: id, h: newMemHandler(), trust: &trust{dir: dir, pins: map[string]ed25519.PublicKey{}}}
	log := zap.NewNop()
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt).Named(name)
	}
	cfg := Config{
		Identity: id, Name: name, ListenAddr: "127.0.0.1:0",
		Resolver: n.trust, Authorizer: n.trust, Handler: n.h, Log: log,
	}
	fastTimers(&cfg)
	for _, o := range opts {
		o(&cfg)
	}
	n.m, err = NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir.set(name, id.Public, n.m.Addr().String())
	done := make(chan error, 1)
	go func() { done <- n.m.Run(context.Background()) }()
	waitFor(t, name+" running", func() bool {
		n.m.mu.Lock()
		defer n.m.mu.Unlock()
		return n.m.running
	})
	t.Cleanup(func() {
		n.m.Close()
		if err := <-done; err != nil {
			t.Errorf("%s: Run = %v", name, err)
		}
	})
	return n
}

// send queues a message and tells the manager, as the daemon does.
func (n *node) send(to, body string) [16]byte {
	id := n.h.enqueue(to, body)
	n.m.Notify(to)
	return id
}

// waitFor polls cond until it holds. The limit is only there so a broken
// build fails instead of hanging; nothing is asserted about speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkLeaks fails the test if goroutines started during it are still
// running after every node has stopped. Call it first, so its cleanup runs
// last.
func checkLeaks(t *testing.T) { leakcheck.Check(t) }

func sessionCount(n *node, peer string) int {
	c := 0
	for _, s := range n.m.Sessions() {
		if s.Peer == peer {
			c++
		}
	}
	return c
}

// newNodeNoRun is newNode without starting Run.
func newNodeNoRun(t testing.TB, dir *directory, name string) *node {
	t.Helper()
	id, _ := identity.Generate(nil)
	n := &node{name: name, id: id, h: newMemHandler(), trust: &trust{dir: dir, pins: map[string]ed25519.PublicKey{}}}
	cfg := Config{Identity: id, Name: name, ListenAddr: "127.0.0.1:0",
		Resolver: n.trust, Authorizer: n.trust, Handler: n.h}
	fastTimers(&cfg)
	var err error
	if n.m, err = NewManager(cfg); err != nil {
		t.Fatal(err)
	}
	dir.set(name, id.Public, n.m.Addr().String())
	t.Cleanup(func() { n.m.Close() })
	return n
}

func (m *Manager) dialerRunning(peer string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dialers[peer] != nil
}
