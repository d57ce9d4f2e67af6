package peer

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/wire"
)

// benchHandler is the cheapest Handler that still behaves: a fixed outbox
// (Seq = index+1) and counters.
type benchHandler struct {
	out   []OutMsg
	got   atomic.Int64
	acked atomic.Int64
	want  int64
	done  chan struct{}
	once  sync.Once
}

func (h *benchHandler) Deliver(_ context.Context, _ string, _ ed25519.PublicKey, msgs []wire.Msg) error {
	if h.got.Add(int64(len(msgs))) >= h.want && h.done != nil {
		h.once.Do(func() { close(h.done) })
	}
	return nil
}

func (h *benchHandler) Pending(_ context.Context, _ string, after int64, limit int) ([]OutMsg, error) {
	lo := min(int(after), len(h.out))
	return h.out[lo:min(lo+limit, len(h.out))], nil
}

func (h *benchHandler) Sent(context.Context, string, [][16]byte) error { return nil }
func (h *benchHandler) Acked(_ context.Context, _ string, ids [][16]byte) error {
	h.acked.Add(int64(len(ids)))
	return nil
}
func (h *benchHandler) PeerState(string, bool, string, Path) {}

// acceptAll authorises everyone: the benchmarks measure sessions, not trust.
type acceptAll struct{ dir *directory }

func (acceptAll) Authorize(context.Context, string, ed25519.PublicKey) (Standing, error) {
	return Contact, nil
}
func (a acceptAll) Resolve(ctx context.Context, name string) (ed25519.PublicKey, []string, error) {
	return (&trust{dir: a.dir, pins: map[string]ed25519.PublicKey{}}).Resolve(ctx, name)
}

func benchManager(b *testing.B, dir *directory, name string, h Handler) *Manager {
	id, _ := identity.Generate(nil)
	m, err := NewManager(Config{Identity: id, Name: name, ListenAddr: "127.0.0.1:0",
		Resolver: acceptAll{dir}, Authorizer: acceptAll{dir}, Handler: h})
	if err != nil {
		b.Fatal(err)
	}
	dir.set(name, id.Public, m.Addr().String())
	done := make(chan error, 1)
	go func() { done <- m.Run(context.Background()) }()
	b.Cleanup(func() { m.Close(); <-done })
	return m
}

// BenchmarkThroughput measures messages per second from one manager to
// another over loopback TLS, 100-byte bodies, with acks flowing back.
func BenchmarkThroughput(b *testing.B) {
	dir := newDirectory()
	body := make([]byte, 100)
	out := make([]OutMsg, b.N+1)
	for i := range out {
		out[i] = OutMsg{Seq: int64(i + 1), Msg: wire.Msg{SentAt: time.Now(), Body: body}}
		out[i].Msg.ID[0], out[i].Msg.ID[1], out[i].Msg.ID[2] = byte(i), byte(i>>8), byte(i>>16)
	}
	sender := &benchHandler{out: out}
	receiver := &benchHandler{want: int64(len(out)), done: make(chan struct{})}
	alice := benchManager(b, dir, "alice", sender)
	benchManager(b, dir, "bob", receiver)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	alice.Notify("bob")
	<-receiver.done
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(len(out))/elapsed.Seconds(), "msg/s")
}

// BenchmarkConnectionSetup measures TCP connect + preamble + TLS 1.3 +
// Hello against a running manager.
func BenchmarkConnectionSetup(b *testing.B) {
	dir := newDirectory()
	bob := benchManager(b, dir, "bob", &benchHandler{})
	id, _ := identity.Generate(nil)
	cert, _ := id.TLSCertificate()
	p := handshakeParams{self: id, name: "alice", tlsBase: newTLSBase(cert, id.Public), timeout: 10 * time.Second}
	b.ResetTimer()
	for b.Loop() {
		conn, err := net.Dial("tcp", bob.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := handshake(context.Background(), conn, p); err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}

const idleClientsEnv = "P2PCHAT_PEER_BENCH_IDLE_CLIENTS"

// BenchmarkIdleSessionMemory opens idleSessions sessions to one manager
// from a child process (so only the manager's side is counted here) and
// reports the heap and goroutine-stack growth per session.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const idleSessions = 200
	for b.Loop() {
		dir := newDirectory()
		hub := benchManager(b, dir, "hub", &benchHandler{})
		before := memNow()
		child := exec.Command(os.Args[0], "-test.run=^TestIdleClientsChild$")
		child.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", idleClientsEnv, hub.Addr(), idleSessions))
		stdin, _ := child.StdinPipe()
		stdout, _ := child.StdoutPipe()
		if err := child.Start(); err != nil {
			b.Fatal(err)
		}
		ready, _ := bufio.NewReader(stdout).ReadString('\n')
		if ready != "ready\n" {
			stdin.Close()
			child.Wait()
			b.Fatalf("child: %q", ready)
		}
		for len(hub.Sessions()) < idleSessions {
			time.Sleep(10 * time.Millisecond)
		}
		after := memNow()
		stdin.Close()
		child.Wait()
		b.ReportMetric(float64(after.heap-before.heap)/idleSessions, "heap-B/session")
		b.ReportMetric(float64(after.stack-before.stack)/idleSessions, "stack-B/session")
		b.ReportMetric(float64(after.heap+after.stack-before.heap-before.stack)/idleSessions, "B/session")
	}
}

type memSample struct{ heap, stack int64 }

func memNow() memSample {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return memSample{heap: int64(ms.HeapAlloc), stack: int64(ms.StackInuse)}
}

// TestIdleClientsChild is the child process of BenchmarkIdleSessionMemory:
// it opens the sessions, says "ready" and holds them until stdin closes.
func TestIdleClientsChild(t *testing.T) {
	spec := os.Getenv(idleClientsEnv)
	if spec == "" {
		t.Skip("only runs as the child of BenchmarkIdleSessionMemory")
	}
	var addr string
	var n int
	for i := len(spec) - 1; i >= 0; i-- {
		if spec[i] == ',' {
			addr = spec[:i]
			n, _ = strconv.Atoi(spec[i+1:])
			break
		}
	}
	var links []*link
	for i := range n {
		id, _ := identity.Generate(nil)
		cert, _ := id.TLSCertificate()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		l, err := handshake(context.Background(), conn, handshakeParams{
			self: id, name: fmt.Sprint("client", i), tlsBase: newTLSBase(cert, id.Public), timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	for _, l := range links {
		l.raw.Close()
	}
}
