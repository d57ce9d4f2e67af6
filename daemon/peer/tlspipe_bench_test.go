package peer

// Baselines for chatd's figures (issue 12: every target is a ratio to a
// baseline measured in the same run): what one TLS 1.3 loopback
// connection does with no store and no session machinery behind it.
//
//	go test -run '^$' -bench 'TLSPipe|TLSRoundTrip|TLSHandshake' ./daemon/peer
//
// BenchmarkTLSPipe is the message ceiling: 64-byte messages in chatd's
// frames from one goroutine to another over TLS 1.3, acknowledged by the
// receiver in batches (one Ack frame for what one read brought), with at
// most pipeWindow unacknowledged. In "write=each" every message is its
// own Write (its own TLS record and system call), as a message submitted
// alone goes out; in "write=batched" the sender writes what the window
// allows in one Write, as a backlogged chatd session does. The pair
// throughput target is a ratio to "write=each".
// BenchmarkTLSRoundTrip is one Ping/Pong frame exchange on an established
// connection: the unit of the latency target. BenchmarkTLSHandshake is TCP
// connect and the TLS 1.3 handshake with both sides' identity
// certificates, chatd's settings, and nothing else: the ceiling of
// connection setup.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/wire"
)

const (
	pipeBody   = 64
	pipeWindow = 4096 // unacknowledged messages in flight, wire.MaxAckIDs
)

// tlsEnd is one side's TLS settings: chatd's (newTLSBase), with the
// peer's key taken from its certificate as chatd does.
func tlsEnd(b *testing.B) *tls.Config {
	b.Helper()
	id, err := identity.Generate(nil)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := id.TLSCertificate()
	if err != nil {
		b.Fatal(err)
	}
	cfg := newTLSBase(cert, id.Public)
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		_, err := identity.PeerKeyFromCerts(raw)
		return err
	}
	return cfg
}

// tlsListener accepts connections and runs the server side of the
// handshake on each, handing the result to serve (in its own goroutine)
// until the benchmark ends.
func tlsListener(b *testing.B, serve func(*tls.Conn)) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := tlsEnd(b)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					c.Close()
					return
				}
				serve(tc)
			})
		}
	})
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func tlsDial(b *testing.B, addr string, cfg *tls.Config) *tls.Conn {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		b.Fatal(err)
	}
	return tc
}

// pipeReceiver reads messages and acknowledges each read's worth in one
// Ack frame, as a chatd receiver acknowledges a delivered batch.
func pipeReceiver(c *tls.Conn) {
	defer c.Close()
	r, w := wire.NewReader(c), wire.NewWriter(c)
	ids := make([][16]byte, 0, pipeWindow)
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return
		}
		if m, ok := f.(wire.Msg); ok {
			ids = append(ids, m.ID)
		}
		if len(ids) > 0 && (len(ids) == wire.MaxAckIDs || !r.FrameBuffered()) {
			if w.WriteFrame(wire.Ack{IDs: ids}) != nil || w.Flush() != nil {
				return
			}
			ids = ids[:0]
		}
	}
}

func BenchmarkTLSPipe(b *testing.B) {
	for _, mode := range []string{"each", "batched"} {
		b.Run("write="+mode, func(b *testing.B) { benchPipe(b, mode == "batched") })
	}
}

func benchPipe(b *testing.B, batched bool) {
	addr := tlsListener(b, pipeReceiver)
	c := tlsDial(b, addr, tlsEnd(b))
	defer c.Close()
	var acked atomic.Int64
	ackCh := make(chan struct{}, 1) // the sender waits here for window room
	readErr := make(chan error, 1)
	go func() { // owned by this benchmark: ends when c closes
		r := wire.NewReader(c)
		for {
			f, err := r.ReadFrame()
			if err != nil {
				readErr <- err
				return
			}
			if a, ok := f.(wire.Ack); ok {
				acked.Add(int64(len(a.IDs)))
				select {
				case ackCh <- struct{}{}:
				default:
				}
			}
		}
	}()
	w := wire.NewWriter(c)
	body := make([]byte, pipeBody)
	n := int64(b.N)
	b.SetBytes(pipeBody)
	b.ResetTimer()
	start := time.Now()
	for sent := int64(0); sent < n; {
		for sent-acked.Load() >= pipeWindow {
			select {
			case <-ackCh:
			case err := <-readErr:
				b.Fatal(err)
			}
		}
		room := min(n-sent, pipeWindow-(sent-acked.Load()))
		if !batched {
			room = 1
		}
		for range room {
			m := wire.Msg{SentAt: time.Now(), Body: body}
			m.ID[0], m.ID[1], m.ID[2], m.ID[3] = byte(sent), byte(sent>>8), byte(sent>>16), byte(sent>>24)
			if err := w.WriteFrame(m); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	for acked.Load() < n {
		select {
		case <-ackCh:
		case err := <-readErr:
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkTLSRoundTrip reports the round trip of one small frame each
// way (p50 and p99 in µs) on an established connection.
func BenchmarkTLSRoundTrip(b *testing.B) {
	addr := tlsListener(b, func(c *tls.Conn) {
		defer c.Close()
		r, w := wire.NewReader(c), wire.NewWriter(c)
		for {
			f, err := r.ReadFrame()
			if err != nil {
				return
			}
			if p, ok := f.(wire.Ping); ok {
				if w.WriteFrame(wire.Pong(p)) != nil || w.Flush() != nil {
					return
				}
			}
		}
	})
	c := tlsDial(b, addr, tlsEnd(b))
	defer c.Close()
	r, w := wire.NewReader(c), wire.NewWriter(c)
	lat := make([]time.Duration, 0, b.N)
	var nonce uint64
	for b.Loop() {
		nonce++
		t0 := time.Now()
		if err := w.WriteFrame(wire.Ping{Nonce: nonce}); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		f, err := r.ReadFrame()
		if err != nil {
			b.Fatal(err)
		}
		if p, ok := f.(wire.Pong); !ok || p.Nonce != nonce {
			b.Fatalf("got %v, want pong %d", f, nonce)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, "rtt", lat)
}

// BenchmarkTLSHandshake is TCP connect plus the TLS 1.3 mutual handshake,
// both ends' identity certificates checked as chatd checks them, timed
// until both ends have finished (the client's Handshake returns when it
// has sent its Finished; the server's one flight later, so the client
// waits for the server's first byte).
func BenchmarkTLSHandshake(b *testing.B) {
	addr := tlsListener(b, func(c *tls.Conn) {
		c.Write([]byte{1}) // the server is done: tell the client
		io.Copy(io.Discard, c)
		c.Close()
	})
	cfg := tlsEnd(b)
	lat := make([]time.Duration, 0, b.N)
	var one [1]byte
	for b.Loop() {
		t0 := time.Now()
		c := tlsDial(b, addr, cfg)
		if _, err := io.ReadFull(c, one[:]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		c.Close()
	}
	reportLatency(b, "handshake", lat)
}

// reportLatency reports p50, p99 and p999 of lat in µs, and the mean.
func reportLatency(b *testing.B, what string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(sum/time.Duration(len(lat))), what+"-mean-µs")
	for _, p := range []struct {
		name string
		q    int // per mille
	}{{"p50", 500}, {"p99", 990}, {"p999", 999}} {
		b.ReportMetric(us(lat[(len(lat)-1)*p.q/1000]), fmt.Sprintf("%s-%s-µs", what, p.name))
	}
}
