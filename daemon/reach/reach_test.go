package reach

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/internal/testenv"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/server"
)

var relayKey = func() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}()

// runRelay serves a real relay on ln until the returned stop is called
// (or the test ends).
func runRelay(t *testing.T, ln net.Listener) (stop func()) {
	s, err := server.New(server.Config{Key: relayKey, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func relayAddr(ln net.Listener) relay.Addr {
	return relay.Addr{HostPort: ln.Addr().String(), Key: relayKey.Public().(ed25519.PublicKey)}
}

type harness struct {
	s       *Service
	need    atomic.Bool
	served  chan net.Conn
	changes atomic.Int32
}

func start(t *testing.T, relays ...relay.Addr) *harness {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	h := &harness{served: make(chan net.Conn, 10)}
	h.need.Store(true)
	s, err := New(Config{Relays: relays, Key: key, Need: h.need.Load,
		Serve:         func(c net.Conn) { h.served <- c },
		OnChange:      func() { h.changes.Add(1) },
		CheckInterval: 50 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func waitState(t *testing.T, s *Service, state string) Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Status()
		if st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %q: status %+v", state, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReservesPublishesAndServes(t *testing.T) {
	leakcheck.Check(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	runRelay(t, ln)
	h := start(t, relayAddr(ln))
	waitState(t, h.s, StateReserved)
	if a := h.s.Addrs(); len(a) != 1 || a[0] != relayAddr(ln).String() {
		t.Fatalf("Addrs = %v", a)
	}
	if h.changes.Load() == 0 {
		t.Fatal("no OnChange for the new reservation")
	}
	caller, err := relay.Connect(context.Background(), relayAddr(ln), h.s.cfg.Key.Public().(ed25519.PublicKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	select {
	case c := <-h.served:
		caller.Write([]byte("x"))
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil || b[0] != 'x' {
			t.Fatalf("relayed byte: %q %v", b, err)
		}
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the relayed connection never reached Serve")
	}

	h.need.Store(false)
	h.s.Kick()
	waitState(t, h.s, StateNotNeeded)
	if a := h.s.Addrs(); a != nil {
		t.Fatalf("not needed, yet Addrs = %v", a)
	}
	h.need.Store(true)
	h.s.Kick()
	waitState(t, h.s, StateReserved)
}

func TestRelayRestartAndFailover(t *testing.T) {
	leakcheck.Check(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := relayAddr(dead)
	dead.Close()
	ln, err := net.Listen("tcp", testenv.RestartableAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := runRelay(t, ln)
	h := start(t, deadAddr, relayAddr(ln))
	st := waitState(t, h.s, StateReserved)
	if st.Relay != relayAddr(ln).String() {
		t.Fatalf("reserved on %s; want the live relay", st.Relay)
	}
	stop()
	waitState(t, h.s, StateFailed)
	if h.s.Addrs() != nil {
		t.Fatal("a dead relay is still published")
	}
	ln2, err := net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	runRelay(t, ln2)
	waitState(t, h.s, StateReserved)
}

func TestNoRelaysIsOff(t *testing.T) {
	leakcheck.Check(t)
	h := start(t)
	if st := h.s.Status(); st.State != StateOff || h.s.Addrs() != nil {
		t.Fatalf("status %+v", st)
	}
}
