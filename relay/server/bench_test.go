package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// benchRelay is startRelay without per-line test logging.
func benchRelay(b *testing.B, mod ...func(*Config)) *testRelay {
	cfg := Config{Key: relayKey, Log: zap.NewNop(), IdleTimeout: time.Hour, SessionsPerTarget: 1 << 20,
		SessionsPerSource: 1 << 20, MaxSessions: 1 << 20}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return &testRelay{Server: s, addr: s.Addr(ln.Addr().String())}
}

func benchPair(b *testing.B, r *testRelay, res *relay.Reservation) (net.Conn, net.Conn) {
	ctx := context.Background()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := relay.Connect(ctx, r.addr, pub(bob), nil)
		done <- result{c, err}
	}()
	callee, _, err := res.Accept(ctx)
	if err != nil {
		b.Fatal(err)
	}
	got := <-done
	if got.err != nil {
		b.Fatal(got.err)
	}
	return got.c, callee
}

// inUse is the heap and stack in use after two collections (the second
// also shrinks stacks the first found mostly unused).
func inUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse
}

// BenchmarkIdleSessionMemory holds 1,000 joined, idle sessions and
// reports the heap and stack they take. Both ends live in this process
// too, so "B/session" includes two client-side TLS connections;
// "client-B/session" measures what two such connections cost alone (a
// direct loopback TLS pair, idle, after its handshake), and
// "relay-B/session" is the difference: the relay's own share.
//
// "fresh" sessions have carried nothing; "after-traffic" sessions have
// each carried 64 KiB each way first, so crypto/tls's read buffers on the
// relay have grown to a full record; "limited" has a per-session rate.
// Run it with -benchtime=1x.
func BenchmarkIdleSessionMemory(b *testing.B) {
	b.Run("fresh", func(b *testing.B) { idleSessionMemory(b, 0) })
	b.Run("after-traffic", func(b *testing.B) { idleSessionMemory(b, 64<<10) })
	b.Run("limited", func(b *testing.B) { idleSessionMemory(b, 0, func(c *Config) { c.SessionRate = 1 << 20 }) })
}

func idleSessionMemory(b *testing.B, traffic int, mod ...func(*Config)) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		r := benchRelay(b, mod...)
		res, err := relay.Reserve(context.Background(), r.addr, bob, nil)
		if err != nil {
			b.Fatal(err)
		}
		conns := make([]net.Conn, 0, 2*n)
		g0 := runtime.NumGoroutine()
		h0, s0 := inUse()
		b.StartTimer()
		for range n {
			a, c := benchPair(b, r, res)
			conns = append(conns, a, c)
		}
		b.StopTimer()
		for value(r.m.active) < n {
			time.Sleep(time.Millisecond)
		}
		if traffic > 0 {
			exchange(b, conns, traffic)
		}
		time.Sleep(100 * time.Millisecond) // let the copies park in their reads
		h1, s1 := inUse()
		g1 := runtime.NumGoroutine()
		perSession := float64(h1+s1-h0-s0) / n
		client := tlsPairCost(b, n, traffic)

		b.ReportMetric(perSession, "B/session")
		b.ReportMetric(client, "client-B/session")
		b.ReportMetric(perSession-client, "relay-B/session")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/session")
		b.ReportMetric(float64(s1-s0)/n, "stack-B/session")
		for _, c := range conns {
			c.Close()
		}
		res.Close()
		b.StartTimer()
	}
}

// exchange sends size bytes each way over each pair of conns (caller,
// callee, caller, ...) and reads them at the other end.
func exchange(b *testing.B, conns []net.Conn, size int) {
	chunk := make([]byte, size)
	var wg sync.WaitGroup
	for i := 0; i < len(conns); i++ {
		wg.Go(func() {
			if _, err := conns[i].Write(chunk); err != nil {
				b.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := io.ReadFull(conns[i^1], make([]byte, size)); err != nil {
				b.Error(err)
			}
		})
		if i%64 == 63 {
			wg.Wait()
		}
	}
	wg.Wait()
}

// tlsPairCost is what the client ends of n relayed sessions cost: n
// direct loopback TLS 1.3 pairs with identity certificates, idle after
// their handshake (and after traffic bytes each way, if any).
func tlsPairCost(b *testing.B, n, traffic int) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	srv, err := newTLSConfig(relayKey)
	if err != nil {
		b.Fatal(err)
	}
	cli := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, InsecureSkipVerify: true}
	conns := make([]net.Conn, 0, 2*n)
	h0, s0 := inUse()
	for range n {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		a := tls.Client(raw, cli)
		go a.Handshake()
		raw, _ = ln.Accept()
		c := tls.Server(raw, srv)
		if err := c.Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := a.Handshake(); err != nil { // done by now; waits for the goroutine's
			b.Fatal(err)
		}
		conns = append(conns, a, c)
	}
	if traffic > 0 {
		exchange(b, conns, traffic)
	}
	h1, s1 := inUse()
	cost := float64(h1+s1-h0-s0) / float64(n)
	for _, c := range conns {
		c.Close()
	}
	return cost
}

// BenchmarkThroughput copies 64 KiB chunks one way over a direct loopback
// TCP connection (the baseline), over a direct TLS 1.3 connection (what
// one layer of TLS costs here) and over a relayed session, where the
// sender's TLS to the relay, the relay's two and the receiver's all run
// in this process.
func BenchmarkThroughput(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		w, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		rd, _ := ln.Accept()
		stream(b, w, rd)
	})
	b.Run("direct-tls", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		srv, err := newTLSConfig(relayKey)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		w := tls.Client(raw, &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, InsecureSkipVerify: true})
		go w.Handshake()
		raw, _ = ln.Accept()
		stream(b, w, tls.Server(raw, srv))
	})
	b.Run("relayed", func(b *testing.B) {
		r := benchRelay(b)
		res, err := relay.Reserve(context.Background(), r.addr, bob, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Close()
		w, rd := benchPair(b, r, res)
		stream(b, w, rd)
	})
}

func stream(b *testing.B, w, rd net.Conn) {
	chunk := make([]byte, 64<<10)
	done := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, rd)
		done <- n
	}()
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	closeWrite(w)
	if n := <-done; n != int64(b.N*len(chunk)) {
		b.Fatalf("read %d bytes, want %d", n, b.N*len(chunk))
	}
	b.StopTimer()
	w.Close()
	rd.Close()
}
