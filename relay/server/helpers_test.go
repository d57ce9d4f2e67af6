package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/internal/tlsident"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

var (
	relayKey = testKey(100)
	alice    = testKey(1)
	bob      = testKey(2)
	carol    = testKey(3)
)

// testRelay is a running relay on 127.0.0.1.
type testRelay struct {
	*Server
	addr relay.Addr
	stop func() // cancels Serve and waits for it to return nil
}

func startRelay(t *testing.T, mod func(*Config)) *testRelay {
	t.Helper()
	return startRelayOn(t, "127.0.0.1:0", mod)
}

func startRelayOn(t *testing.T, listen string, mod func(*Config)) *testRelay {
	t.Helper()
	cfg := Config{Key: relayKey, Log: zaptest.NewLogger(t)}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Serve returned %v after cancel, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return &testRelay{Server: s, addr: s.Addr(ln.Addr().String()), stop: stop}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func reserve(t *testing.T, r *testRelay, id ed25519.PrivateKey, dial relay.DialFunc) *relay.Reservation {
	t.Helper()
	res, err := relay.Reserve(ctxT(t), r.addr, id, dial)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// connectPair connects caller to the holder of res and returns both ends.
func connectPair(t *testing.T, r *testRelay, res *relay.Reservation, target ed25519.PrivateKey, dial relay.DialFunc) (caller, callee net.Conn, in relay.Incoming) {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := relay.Connect(ctxT(t), r.addr, pub(target), dial)
		done <- result{c, err}
	}()
	callee, in, err := res.Accept(ctxT(t))
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	got := <-done
	if got.err != nil {
		callee.Close()
		t.Fatalf("connect: %v", got.err)
	}
	t.Cleanup(func() { got.c.Close(); callee.Close() })
	return got.c, callee, in
}

// dialRaw opens a plain TCP connection to r, for tests of what comes
// before TLS; the test's cleanup closes it.
func dialRaw(t *testing.T, r *testRelay) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", r.addr.HostPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// clientTLS is a relay client's TLS configuration in miniature (the
// client's own is unexported): TLS 1.3, the relay's ALPN, and id's
// identity certificate when id is not nil. The relay's key is not
// checked: these tests talk to their own relay.
func clientTLS(t *testing.T, id ed25519.PrivateKey) *tls.Config {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, InsecureSkipVerify: true}
	if id != nil {
		cert, err := tlsident.Certificate(id)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// dialTLS opens a TLS connection to r with cfg, for tests that speak the
// wire protocol by hand; the test's cleanup closes it.
func dialTLS(t *testing.T, r *testRelay, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", r.addr.HostPort, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func (r *testRelay) refusals(reason string) float64 {
	return value(r.m.refusals.WithLabelValues(reason))
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fromIP dials from a chosen loopback address, so tests can play several
// source IPs (127.0.0.0/8 is all loopback on Linux).
func fromIP(ip string) relay.DialFunc {
	return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
}

// closeWrite half-closes a relayed connection (a TLS close_notify).
func closeWrite(c net.Conn) {
	c.(interface{ CloseWrite() error }).CloseWrite()
}

// readAll reads until EOF within 5 s.
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// tap is a loopback TCP proxy in front of the relay that records every
// byte between the clients and the relay, each direction of each
// connection apart: what an observer on the path sees.
type tap struct {
	ln net.Listener
	to string
	// mu guards streams and their contents; holding it freezes all
	// traffic through the tap.
	mu      sync.Mutex
	streams []*bytes.Buffer
	wg      sync.WaitGroup
}

func newTap(t *testing.T, to string) *tap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, to: to}
	tp.wg.Add(1)
	go tp.serve()
	t.Cleanup(func() { ln.Close(); tp.wg.Wait() })
	return tp
}

func (tp *tap) serve() {
	defer tp.wg.Done()
	for {
		c, err := tp.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", tp.to)
		if err != nil {
			c.Close()
			continue
		}
		tp.wg.Add(1)
		go tp.pair(c, up)
	}
}

// pair copies both ways, passing half-closes on, and closes both when done.
func (tp *tap) pair(a, b net.Conn) {
	defer tp.wg.Done()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); tp.copy(b, a) }()
	go func() { defer wg.Done(); tp.copy(a, b) }()
	wg.Wait()
	a.Close()
	b.Close()
}

func (tp *tap) copy(dst, src net.Conn) {
	rec := new(bytes.Buffer)
	tp.mu.Lock()
	tp.streams = append(tp.streams, rec)
	tp.mu.Unlock()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		tp.mu.Lock()
		rec.Write(buf[:n])
		tp.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			break
		}
	}
	dst.(*net.TCPConn).CloseWrite()
}

// dial sends connections through the tap.
func (tp *tap) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, network, tp.ln.Addr().String())
}

// recorded returns a copy of each direction of each connection so far.
func (tp *tap) recorded() [][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make([][]byte, len(tp.streams))
	for i, b := range tp.streams {
		out[i] = bytes.Clone(b.Bytes())
	}
	return out
}

// saw reports whether marker went through the tap in one piece.
func (tp *tap) saw(marker []byte) bool {
	for _, b := range tp.recorded() {
		if bytes.Contains(b, marker) {
			return true
		}
	}
	return false
}

// total is the number of bytes the tap has carried.
func (tp *tap) total() int {
	n := 0
	for _, b := range tp.recorded() {
		n += len(b)
	}
	return n
}
