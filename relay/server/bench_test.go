package server

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/relay"
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

func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// BenchmarkIdleSessionMemory holds 1,000 joined, idle sessions and
// reports the heap and stack they take. Both ends live in this process
// too, so "B/session" includes two client-side TCP connections;
// "client-B/session" measures what two such connections cost alone (a
// direct loopback pair), and "relay-B/session" is the difference: the
// relay's own share. "spliced" is the default (no bandwidth limit);
// "limited" has a per-session rate, so each direction holds a buffer. Run
// it with -benchtime=1x.
func BenchmarkIdleSessionMemory(b *testing.B) {
	b.Run("spliced", func(b *testing.B) { idleSessionMemory(b) })
	b.Run("limited", func(b *testing.B) { idleSessionMemory(b, func(c *Config) { c.SessionRate = 1 << 20 }) })
}

func idleSessionMemory(b *testing.B, mod ...func(*Config)) {
	const n = 1000
	for range b.N {
		b.StopTimer()
		r := benchRelay(b, mod...)
		res, err := relay.Reserve(context.Background(), r.addr, bob, nil)
		if err != nil {
			b.Fatal(err)
		}
		conns := make([]net.Conn, 0, 2*n)
		g0, m0 := runtime.NumGoroutine(), inUse()
		b.StartTimer()
		for range n {
			a, c := benchPair(b, r, res)
			conns = append(conns, a, c)
		}
		b.StopTimer()
		for value(r.m.active) < n {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // let the copies park in splice
		m1, g1 := inUse(), runtime.NumGoroutine()
		perSession := float64(m1-m0) / n

		// What the client ends cost: n direct loopback pairs.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		direct := make([]net.Conn, 0, 2*n)
		m2 := inUse()
		for range n {
			a, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c, _ := ln.Accept()
			direct = append(direct, a, c)
		}
		client := float64(inUse()-m2) / n
		ln.Close()
		for _, c := range direct {
			c.Close()
		}

		b.ReportMetric(perSession, "B/session")
		b.ReportMetric(client, "client-B/session")
		b.ReportMetric(perSession-client, "relay-B/session")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/session")
		for _, c := range conns {
			c.Close()
		}
		res.Close()
		b.StartTimer()
	}
}

// BenchmarkThroughput copies 64 KiB chunks one way over a direct loopback
// TCP connection (the baseline) and over a relayed session.
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
	w.(*net.TCPConn).CloseWrite()
	if n := <-done; n != int64(b.N*len(chunk)) {
		b.Fatalf("read %d bytes, want %d", n, b.N*len(chunk))
	}
	b.StopTimer()
	w.Close()
	rd.Close()
}
