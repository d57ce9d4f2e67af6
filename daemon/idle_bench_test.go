package daemon

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/wire"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// BenchmarkIdleSessionMemory connects k peers (1, 100, 1000) to one hub,
// a real chatd in a child process (this test binary, see runHub), each
// sending it one message, and reports how much the hub's memory grew per
// idle session: Go heap + stacks ("B/session"), and RSS ("rss-B/session",
// which also counts SQLite's page cache and allocator slack), measured
// after a first, warm-up session (what the first one initialises once,
// such as TLS tables and tracker client connections, is not charged to
// the others). "net-B/session" is the drop in heap + stacks when the
// sessions close again, with the contacts and their messages still
// stored: the memory the sessions themselves hold. The hub has every peer
// as a contact, as a user's chatd has its contacts.
//
// With P2PCHAT_BENCH_PROFILES set to a directory, the hub writes a heap
// profile there while it holds the sessions.
//
// The peers are not daemons but lightPeers (a peer.Manager with a
// one-message outbox, registered on the tracker like a daemon), so that a
// thousand fit in the parent process; the hub cannot tell the difference.
//
//	go test -run '^$' -bench IdleSessionMemory -benchtime=1x ./daemon
func BenchmarkIdleSessionMemory(b *testing.B) {
	for _, k := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", k), func(b *testing.B) {
			for b.Loop() {
				benchIdle(b, k)
			}
		})
	}
}

func benchIdle(b *testing.B, k int) {
	tr := trackertest.New(b)
	hub := startHub(b, tr)
	hubKey, hubAddrs := lookup(b, tr, "hub")
	warm := newLightPeer(b, tr, "warm", hubKey, hubAddrs)
	hub.add(b, "warm")
	warm.sendOne(b)
	hub.waitSessions(b, 1)
	before := hub.mem(b)
	fleet := make([]*lightPeer, k)
	names := make([]string, k)
	for i := range k {
		names[i] = fmt.Sprintf("idle%d", i)
		fleet[i] = newLightPeer(b, tr, names[i], hubKey, hubAddrs)
	}
	hub.add(b, names...)
	for _, p := range fleet {
		p.notify()
	}
	for _, p := range fleet {
		p.waitAcked(b)
	}
	// Let the hub's call workers and read buffers go idle.
	time.Sleep(time.Second)
	with := hub.waitSessions(b, k+1)
	if dir := os.Getenv("P2PCHAT_BENCH_PROFILES"); dir != "" {
		hub.heapProfile(b, filepath.Join(dir, fmt.Sprintf("heap-hub-%d-sessions.pprof", k)))
	}
	for _, p := range fleet {
		p.stop()
	}
	hub.waitSessions(b, 1)
	// A closed session's connection lingers for up to closeLinger (2s)
	// in case the peer has last words; let that pass.
	time.Sleep(3 * time.Second)
	without := hub.mem(b)
	per := func(d int64) float64 { return float64(d) / float64(k) }
	b.ReportMetric(per(with.heap+with.stack-before.heap-before.stack), "B/session")
	b.ReportMetric(per(with.heap-before.heap), "heap-B/session")
	b.ReportMetric(per(with.stack-before.stack), "stack-B/session")
	b.ReportMetric(per(with.rss-before.rss), "rss-B/session")
	b.ReportMetric(per(with.heap+with.stack-without.heap-without.stack), "net-B/session")
	b.ReportMetric(float64(with.rss), "hub-rss-B")
}

func lookup(b *testing.B, tr *trackertest.Tracker, name string) (ed25519.PublicKey, []string) {
	b.Helper()
	s, _, err := tr.Client().Lookup(context.Background(), name)
	if err != nil {
		b.Fatalf("look up %s: %v", name, err)
	}
	return s.PublicKey, s.Addrs
}

// lightPeer is the far end of a session without a daemon: a peer.Manager
// whose outbox holds one message for the hub, registered on the tracker
// under its name so that the hub can pin it.
type lightPeer struct {
	name   string
	m      *peer.Manager
	h      *lightHandler
	cancel context.CancelFunc
	done   chan error
}

func newLightPeer(b *testing.B, tr *trackertest.Tracker, name string, hubKey ed25519.PublicKey, hubAddrs []string) *lightPeer {
	b.Helper()
	id, err := identity.Generate(nil)
	if err != nil {
		b.Fatal(err)
	}
	h := &lightHandler{acked: make(chan struct{})}
	h.msg.SentAt = time.Now()
	h.msg.Body = []byte("hi")
	copy(h.msg.ID[:], id.Public) // unique per peer
	res := lightResolver{key: hubKey, addrs: hubAddrs}
	m, err := peer.NewManager(peer.Config{Identity: id, Name: name, ListenAddr: "127.0.0.1:0",
		Resolver: res, Authorizer: res, Handler: h, KeepAlive: 15 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := record.Sign(record.Record{Name: name, PublicKey: id.Public, Addrs: []string{m.Addr().String()},
		Seq: 1, Expires: time.Now().Add(time.Hour)}, id.Private)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tr.Client().Register(context.Background(), rec); err != nil {
		b.Fatalf("register %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &lightPeer{name: name, m: m, h: h, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- m.Run(ctx) }()
	b.Cleanup(p.stop)
	return p
}

func (p *lightPeer) notify() { p.m.Notify("hub") }

func (p *lightPeer) sendOne(b *testing.B) {
	p.notify()
	p.waitAcked(b)
}

func (p *lightPeer) waitAcked(b *testing.B) {
	select {
	case <-p.h.acked:
	case <-time.After(benchWait):
		b.Fatalf("%s: no ack from the hub within %v", p.name, benchWait)
	}
}

func (p *lightPeer) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	<-p.done
}

type lightHandler struct {
	msg   wire.Msg
	once  sync.Once
	mu    sync.Mutex
	done  bool          // guarded by mu: the message was acked
	acked chan struct{} // closed once the message was acked
}

func (h *lightHandler) Deliver(context.Context, string, ed25519.PublicKey, []wire.Msg) error {
	return nil
}

func (h *lightHandler) Pending(_ context.Context, _ string, after int64, _ int) ([]peer.OutMsg, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || after >= 1 {
		return nil, nil
	}
	return []peer.OutMsg{{Seq: 1, Msg: h.msg}}, nil
}

func (h *lightHandler) Sent(context.Context, string, [][16]byte) error { return nil }

func (h *lightHandler) Acked(context.Context, string, [][16]byte) error {
	h.mu.Lock()
	h.done = true
	h.mu.Unlock()
	h.once.Do(func() { close(h.acked) })
	return nil
}

func (h *lightHandler) PeerState(string, bool, string, peer.Path) {}

// lightResolver knows one peer, the hub, and takes everyone as a contact.
type lightResolver struct {
	key   ed25519.PublicKey
	addrs []string
}

func (r lightResolver) Resolve(context.Context, string) (ed25519.PublicKey, []string, error) {
	return r.key, r.addrs, nil
}

func (lightResolver) Authorize(context.Context, string, ed25519.PublicKey) (peer.Standing, error) {
	return peer.Contact, nil
}
