package peer

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Finding 1 of the security review: 80 silent connections from one
// address, reopened as soon as they close, kept every new inbound session
// out. With a per-source bound a peer from another address still gets in
// while the flood goes on.
func TestSilentFloodFromOneAddressDoesNotLockOthersOut(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	core, logs := observer.New(zap.InfoLevel)
	alice := newNode(t, dir, "alice", func(c *Config) { c.Log = zap.New(core) })
	target := alice.m.Addr().String()

	ctx, stop := context.WithCancel(context.Background())
	var flood sync.WaitGroup
	var opened atomic.Int64
	for range 80 {
		flood.Go(func() {
			var d net.Dialer
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", target) // from 127.0.0.1
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				opened.Add(1)
				// Silent, reading what alice says, until she hangs up
				// (or the test ends).
				stopRead := context.AfterFunc(ctx, func() { c.Close() })
				io.Copy(io.Discard, c)
				stopRead()
				c.Close()
			}
		})
	}
	defer func() { stop(); flood.Wait() }()
	time.Sleep(200 * time.Millisecond) // let the flood take what it can

	fromOtherAddr := func(c *Config) {
		c.Dial = func(ctx context.Context, _ net.Addr, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	bob := newNode(t, dir, "bob", fromOtherAddr)
	t0, before := time.Now(), opened.Load()
	bob.send("alice", "through the flood")
	waitFor(t, "alice to receive bob's message during the flood", func() bool {
		return len(alice.h.bodies("bob")) == 1
	})
	took := time.Since(t0)
	t.Logf("slot flood: 80 silent connections from one address (%d opened while bob connected); bob's message arrived in %v",
		opened.Load()-before, took.Round(time.Millisecond))
	if n := logs.FilterMessage("peer handshake slots full; closing new connections at once").Len(); n != 1 {
		t.Errorf("%d log lines about the full handshake slots, want 1 (the first refusal; then one a minute)", n)
	}
}

// A silent connection holds its handshake slot for the preamble timeout,
// not the whole handshake's (here 30 s).
func TestSilentConnectionReleasedAfterPreambleTimeout(t *testing.T) {
	checkLeaks(t)
	dir := newDirectory()
	alice := newNode(t, dir, "alice", func(c *Config) { c.HandshakeTimeout = 30 * time.Second })
	conn, err := net.Dial("tcp", alice.m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(preambleTimeout + 10*time.Second))
	_, err = io.Copy(io.Discard, conn) // alice's preamble, then her hang-up
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("alice kept a silent connection open past the preamble timeout (%v)", preambleTimeout)
	}
}

// Finding 4: every failed handshake was a log line. A flood of garbage
// makes one info line a minute (with the count); the rest is debug.
func TestFailedHandshakesDoNotFloodTheLog(t *testing.T) {
	checkLeaks(t)
	core, logs := observer.New(zap.InfoLevel)
	alice := newNode(t, newDirectory(), "alice", func(c *Config) { c.Log = zap.New(core) })
	const conns = 200
	for range conns {
		c, err := net.Dial("tcp", alice.m.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		io.Copy(io.Discard, c) // until alice hangs up
		c.Close()
	}
	n := logs.FilterMessage("peer handshake failed").Len()
	if n > 2 {
		t.Fatalf("%d garbage connections made %d info lines, want one a minute", conns, n)
	}
	t.Logf("%d garbage connections: %d log lines at info level or above", conns, logs.Len())
}
