package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// silentFlood keeps n silent connections from ip open to r, each
// reopened as soon as the relay closes it, until the test ends. It counts
// the connections the relay closed within quick of opening them.
type silentFlood struct {
	opened, closedAtOnce atomic.Int64
}

func startSilentFlood(t *testing.T, r *testRelay, ip string, n int, quick time.Duration) *silentFlood {
	t.Helper()
	f := &silentFlood{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", r.addr.HostPort)
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				f.opened.Add(1)
				start := time.Now()
				stopRead := context.AfterFunc(ctx, func() { c.Close() })
				io.Copy(io.Discard, c) // silent until the relay hangs up
				if stopRead() && time.Since(start) < quick {
					f.closedAtOnce.Add(1)
				}
				c.Close()
			}
		})
	}
	t.Cleanup(func() { stop(); wg.Wait() })
	return f
}

// handshakesFrom is how many handshake slots src holds.
func (r *testRelay) handshakesFrom(src string) int {
	return r.hs.HeldBy(netip.MustParseAddr(src))
}

// Silent connections from one address hold at most HandshakesPerSource
// handshakes; the rest are closed at once (not after handshake_timeout),
// with one log line; a daemon from another address reserves and is
// called at once all the while.
func TestSilentFloodFromOneAddress(t *testing.T) {
	leakcheck.Check(t)
	core, logs := observer.New(zap.InfoLevel)
	r := startRelay(t, func(c *Config) {
		c.HandshakeTimeout = 10 * time.Second // a slot held by silence is held long
		c.Log = zap.New(core)
	})
	flood := startSilentFlood(t, r, "127.0.0.1", 80, time.Second)
	eventually(t, "the flood to be refused", func() bool { return r.refusals(LimitHandshakesPerSource) >= 100 })

	t0 := time.Now()
	res := reserve(t, r, bob, fromIP("127.0.0.2"))
	caller, callee, _ := connectPair(t, r, res, bob, fromIP("127.0.0.3"))
	took := time.Since(t0)
	if _, err := caller.Write([]byte("through the flood")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("through the flood"))
	callee.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(callee, buf); err != nil {
		t.Fatalf("read through the relay during the flood: %v", err)
	}
	if took > 2*time.Second {
		t.Errorf("reserve and call took %v during the flood", took)
	}
	if n := r.handshakesFrom("127.0.0.1"); n > DefaultHandshakesPerSource {
		t.Errorf("the flooding address holds %d handshakes, want at most %d", n, DefaultHandshakesPerSource)
	}
	if flood.closedAtOnce.Load() == 0 {
		t.Error("no flood connection was closed at once")
	}
	if n := logs.FilterMessage("relay handshake slots full; closing new connections at once").Len(); n != 1 {
		t.Errorf("%d log lines about the refused connections, want 1 (at most one a minute)", n)
	}
	t.Logf("slot flood: 80 silent connections from one address (%d opened, %d closed at once, %v refused); reserve and call from others took %v",
		flood.opened.Load(), flood.closedAtOnce.Load(), r.refusals(LimitHandshakesPerSource), took.Round(time.Millisecond))
}

// MaxHandshakes bounds the handshakes from all addresses together.
func TestMaxHandshakes(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) {
		c.HandshakeTimeout = 10 * time.Second
		c.MaxHandshakes = 4
	})
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).Dial("tcp", r.addr.HostPort)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	eventually(t, "four handshakes held", func() bool { return r.hs.InUse() == 4 })
	c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}).Dial("tcp", r.addr.HostPort)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("a fifth connection: read %v, want it closed", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a fifth connection was closed after %v, want at once", d)
	}
	if r.refusals(LimitMaxHandshakes) != 1 {
		t.Fatalf("refusals(%s) = %v, want 1", LimitMaxHandshakes, r.refusals(LimitMaxHandshakes))
	}
}
