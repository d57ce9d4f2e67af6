package server

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/internal/testenv"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

func TestConnectAcceptCopiesBothWaysWithHalfClose(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	res := reserve(t, r, bob, nil)
	caller, callee, in := connectPair(t, r, res, bob, fromIP("127.0.0.2"))
	if in.From.String() != caller.LocalAddr().String() {
		t.Fatalf("incoming from %v, want the caller's address %v", in.From, caller.LocalAddr())
	}
	if _, err := caller.Write([]byte("hello bob")); err != nil {
		t.Fatal(err)
	}
	closeWrite(caller)
	if got := readAll(t, callee); got != "hello bob" {
		t.Fatalf("bob read %q", got)
	}
	// The caller's half-close reached bob; bob can still answer.
	if _, err := callee.Write([]byte("hello alice")); err != nil {
		t.Fatal(err)
	}
	closeWrite(callee)
	if got := readAll(t, caller); got != "hello alice" {
		t.Fatalf("alice read %q", got)
	}
	eventually(t, "the session to end", func() bool { return value(r.m.active) == 0 })
	if v := value(r.m.ends.WithLabelValues(EndClosed)); v != 1 {
		t.Fatalf("session ends (closed) = %v, want 1", v)
	}
	if v := value(r.m.total); v != 1 {
		t.Fatalf("sessions total = %v, want 1", v)
	}
	if v := value(r.m.bytes); v != float64(len("hello bob")+len("hello alice")) {
		t.Fatalf("bytes relayed = %v, want %d", v, len("hello bob")+len("hello alice"))
	}
}

// TestWrongRelayKeyFails: an address whose key is not the relay's fails
// every kind of connection in the TLS handshake, with ErrWrongRelayKey
// and both keys in the message, before the client has sent anything of
// its own; the relay counts a failed handshake and holds nothing.
func TestWrongRelayKeyFails(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	a := r.addr
	a.Key = pub(carol)
	_, err := relay.Reserve(ctxT(t), a, bob, nil)
	if !errors.Is(err, relay.ErrWrongRelayKey) {
		t.Fatalf("reserve at a relay with another key: %v, want ErrWrongRelayKey", err)
	}
	for _, k := range []ed25519.PublicKey{pub(relayKey), pub(carol)} {
		if !strings.Contains(err.Error(), base64.RawURLEncoding.EncodeToString(k)) {
			t.Errorf("error %q does not name key %s", err, base64.RawURLEncoding.EncodeToString(k))
		}
	}
	if _, err := relay.Connect(ctxT(t), a, pub(bob), nil); !errors.Is(err, relay.ErrWrongRelayKey) {
		t.Fatalf("connect via a relay with another key: %v, want ErrWrongRelayKey", err)
	}
	eventually(t, "two failed handshakes", func() bool { return r.refusals(RefusedTLS) == 2 })
	if value(r.m.reservations) != 0 || value(r.m.pending) != 0 {
		t.Fatal("the relay holds something for a client that walked away")
	}
}

// TestReserveNeedsClientCertificate: a control connection without a
// client certificate has no key to reserve for.
func TestReserveNeedsClientCertificate(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	c := dialTLS(t, r, clientTLS(t, nil))
	wire.Write(c, wire.Reserve, nil)
	f, err := wire.Read(c)
	var re *wire.RefusedError
	if err != nil || !errors.As(wire.Expect(f, wire.Reserved), &re) || re.Code != wire.CodeAuth {
		t.Fatalf("got %v %v, want an auth refusal", f, err)
	}
	if r.refusals(RefusedAuth) != 1 || value(r.m.reservations) != 0 {
		t.Fatal("refusal not counted, or a reservation was made")
	}
}

// TestRelayRefusesForgedClientCertificate: bob's key in a certificate
// alice signed does not pass the handshake, so it reserves nothing.
func TestRelayRefusesForgedClientCertificate(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub(bob), alice)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientTLS(t, nil)
	cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: bob}}
	c := dialTLS(t, r, cfg) // TLS 1.3: the client is done before the relay checks its certificate
	wire.Write(c, wire.Reserve, nil)
	if f, err := wire.Read(c); err == nil {
		t.Fatalf("the relay answered %v to a forged certificate", f.Type)
	}
	eventually(t, "the refusal", func() bool { return r.refusals(RefusedTLS) == 1 })
	if value(r.m.reservations) != 0 {
		t.Fatal("a forged certificate made a reservation")
	}
}

func TestSecondReservationReplacesFirst(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	first := reserve(t, r, bob, nil)
	second := reserve(t, r, bob, fromIP("127.0.0.3"))
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first reservation did not end")
	}
	if !errors.Is(first.Err(), relay.ErrReplaced) || !errors.Is(first.Err(), relay.ErrClosed) {
		t.Fatalf("first ended with %v, want ErrReplaced", first.Err())
	}
	if _, _, err := first.Accept(ctxT(t)); !errors.Is(err, relay.ErrClosed) {
		t.Fatalf("accept on a replaced reservation: %v", err)
	}
	eventually(t, "one reservation", func() bool { return value(r.m.reservations) == 1 })
	connectPair(t, r, second, bob, nil) // the new one gets the callers
}

func TestConnectWithoutReservation(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	_, err := relay.Connect(ctxT(t), r.addr, pub(carol), nil)
	var re *relay.RefusedError
	if !errors.Is(err, relay.ErrNoReservation) || !errors.As(err, &re) || re.Code != "no_reservation" {
		t.Fatalf("connect to nobody: %v, want ErrNoReservation", err)
	}
	if r.refusals(RefusedNoReservation) != 1 {
		t.Fatal("refusal not counted")
	}
}

func TestJoinTimeout(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.JoinTimeout = 200 * time.Millisecond })
	reserve(t, r, bob, nil) // never accepts
	start := time.Now()
	_, err := relay.Connect(ctxT(t), r.addr, pub(bob), nil)
	if !errors.Is(err, relay.ErrJoinTimeout) {
		t.Fatalf("connect to a target that never accepts: %v, want ErrJoinTimeout", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Fatalf("join timeout after %v, want about 200ms", d)
	}
	if r.refusals(RefusedJoinTimeout) != 1 || value(r.m.pending) != 0 {
		t.Fatal("join timeout not counted, or the join is still pending")
	}
}

func TestLateAcceptGetsUnknownToken(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.JoinTimeout = 100 * time.Millisecond })
	res := reserve(t, r, bob, nil)
	if _, err := relay.Connect(ctxT(t), r.addr, pub(bob), nil); !errors.Is(err, relay.ErrJoinTimeout) {
		t.Fatalf("connect: %v", err)
	}
	_, _, err := res.Accept(ctxT(t))
	var re *relay.RefusedError
	if !errors.As(err, &re) || re.Code != wire.CodeUnknownToken || errors.Is(err, relay.ErrClosed) {
		t.Fatalf("late accept: %v, want unknown_token and a live reservation", err)
	}
}

func TestHandshakeDeadlineDropsSilentConnection(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	c := dialRaw(t, r)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("silent connection: read %v, want EOF from the relay", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("dropped after %v", d)
	}
	eventually(t, "the refusal to be counted", func() bool { return r.refusals(RefusedHandshakeTimeout) == 1 })
}

func TestReservationsPerSource(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.ReservationsPerSource = 1 })
	reserve(t, r, bob, nil)
	_, err := relay.Reserve(ctxT(t), r.addr, carol, nil)
	var re *relay.RefusedError
	if !errors.Is(err, relay.ErrLimit) || !errors.As(err, &re) || re.Detail != LimitReservationsPerSource {
		t.Fatalf("second reservation from one IP: %v, want limit %s", err, LimitReservationsPerSource)
	}
	if r.refusals(LimitReservationsPerSource) != 1 {
		t.Fatal("limit not counted")
	}
	reserve(t, r, carol, fromIP("127.0.0.2")) // another source is fine
	reserve(t, r, bob, nil)                   // and bob may replace his own
}

// holdJoin starts a Connect that waits (the target does not accept) and
// returns once the relay counts it; the returned function collects it.
func holdJoin(t *testing.T, r *testRelay, target ed25519.PrivateKey, dial relay.DialFunc) func() error {
	t.Helper()
	before := value(r.m.pending)
	errc := make(chan error, 1)
	go func() {
		c, err := relay.Connect(ctxT(t), r.addr, pub(target), dial)
		if c != nil {
			c.Close()
		}
		errc <- err
	}()
	eventually(t, "a pending join", func() bool { return value(r.m.pending) > before })
	return func() error { return <-errc }
}

func TestSessionLimits(t *testing.T) {
	for _, tc := range []struct {
		limit  string
		mod    func(*Config)
		target ed25519.PrivateKey // of the second connect
		dial   relay.DialFunc     // of the second connect
	}{
		{LimitSessionsPerTarget, func(c *Config) { c.SessionsPerTarget = 1 }, bob, fromIP("127.0.0.2")},
		{LimitSessionsPerSource, func(c *Config) { c.SessionsPerSource = 1 }, carol, nil},
		{LimitMaxSessions, func(c *Config) { c.MaxSessions = 1 }, carol, fromIP("127.0.0.2")},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			leakcheck.Check(t)
			r := startRelay(t, func(c *Config) { c.JoinTimeout = time.Second; tc.mod(c) })
			reserve(t, r, bob, nil)
			reserve(t, r, carol, nil)
			wait := holdJoin(t, r, bob, nil)
			_, err := relay.Connect(ctxT(t), r.addr, pub(tc.target), tc.dial)
			var re *relay.RefusedError
			if !errors.Is(err, relay.ErrLimit) || !errors.As(err, &re) || re.Detail != tc.limit {
				t.Fatalf("second connect: %v, want limit %s", err, tc.limit)
			}
			if r.refusals(tc.limit) != 1 {
				t.Fatalf("refusals{reason=%s} = %v, want 1", tc.limit, r.refusals(tc.limit))
			}
			if err := wait(); !errors.Is(err, relay.ErrJoinTimeout) {
				t.Fatalf("held join: %v", err)
			}
			// The slot is free again.
			wait = holdJoin(t, r, bob, nil)
			wait()
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.IdleTimeout = 400 * time.Millisecond })
	res := reserve(t, r, bob, nil)
	caller, callee, _ := connectPair(t, r, res, bob, nil)
	// Traffic in one direction only keeps the session alive.
	for range 8 {
		if _, err := caller.Write([]byte("x")); err != nil {
			t.Fatalf("session closed while busy: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if value(r.m.ends.WithLabelValues(EndIdle)) != 0 {
		t.Fatal("a busy session was closed as idle")
	}
	start := time.Now()
	if got := readAll(t, callee); got != "xxxxxxxx" {
		t.Fatalf("bob read %q", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Fatalf("idle session closed after %v, want about 400ms", d)
	}
	eventually(t, "the idle end to be counted", func() bool { return value(r.m.ends.WithLabelValues(EndIdle)) == 1 })
	if value(r.m.bytes) != 8 {
		t.Fatalf("bytes relayed %v, want 8", value(r.m.bytes))
	}
}

func TestRateLimitedSession(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.SessionRate = 64 << 10; c.GlobalRate = 1 << 20 })
	res := reserve(t, r, bob, nil)
	caller, callee, _ := connectPair(t, r, res, bob, nil)
	payload := strings.Repeat("p", 64<<10)
	start := time.Now()
	go func() {
		caller.Write([]byte(payload))
		closeWrite(caller)
	}()
	if got := readAll(t, callee); got != payload {
		t.Fatalf("bob read %d bytes, want %d", len(got), len(payload))
	}
	// A 16 KiB burst, then 64 KiB/s: 48 KiB take at least 0.75 s.
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Fatalf("64 KiB at 64 KiB/s took %v", d)
	}
}

func TestKeepaliveDropsSilentReservation(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.KeepAlive = 100 * time.Millisecond })
	// A client that completes the handshake and then never pings.
	c := dialTLS(t, r, clientTLS(t, bob))
	wire.Write(c, wire.Reserve, nil)
	if f, err := wire.Read(c); err != nil || f.Type != wire.Reserved {
		t.Fatalf("reserved: %v %v", f, err)
	}
	if value(r.m.reservations) != 1 {
		t.Fatal("no reservation")
	}
	start := time.Now()
	eventually(t, "the silent reservation to be dropped", func() bool { return value(r.m.reservations) == 0 })
	if d := time.Since(start); d > time.Second {
		t.Fatalf("dropped after %v, want about 300ms", d)
	}
}

func TestClientNoticesDeadRelay(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, func(c *Config) { c.KeepAlive = 100 * time.Millisecond })
	// The tap forwards the handshake, then we freeze it: the relay's
	// answers to pings stop arriving, as with a relay that lost power.
	tp := newTap(t, r.addr.HostPort)
	res := reserve(t, r, bob, tp.dial)
	tp.mu.Lock()
	start := time.Now()
	select {
	case <-res.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not notice the silent relay")
	}
	tp.mu.Unlock()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("noticed after %v, want about 300ms", d)
	}
	if !errors.Is(res.Err(), relay.ErrClosed) {
		t.Fatalf("ended with %v", res.Err())
	}
}

func TestRelayRestart(t *testing.T) {
	leakcheck.Check(t)
	r := startRelayOn(t, testenv.RestartableAddr(t), nil)
	res := reserve(t, r, bob, nil)
	r.stop()
	select {
	case <-res.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the reservation outlived its relay")
	}
	// The same relay (same key) comes back on the same port.
	r2 := startRelayOn(t, r.addr.HostPort, nil)
	res2 := reserve(t, r2, bob, nil)
	connectPair(t, r2, res2, bob, nil)
}

func TestServeReturnsNilAndClosesSessions(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	res := reserve(t, r, bob, nil)
	caller, _, _ := connectPair(t, r, res, bob, nil)
	r.stop() // fails the test unless Serve returns nil
	if got := readAll(t, caller); got != "" {
		t.Fatalf("read %q after shutdown", got)
	}
	if value(r.m.ends.WithLabelValues(EndShutdown)) != 1 {
		t.Fatalf("ends: shutdown %v", value(r.m.ends.WithLabelValues(EndShutdown)))
	}
}

func TestBadFirstFrame(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	c := dialTLS(t, r, clientTLS(t, nil))
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	f, err := wire.Read(c)
	var re *wire.RefusedError
	if err != nil || !errors.As(wire.Expect(f, wire.OK), &re) || re.Code != wire.CodeBadRequest {
		t.Fatalf("got %v %v, want bad_request", f, err)
	}
	eventually(t, "the refusal", func() bool { return r.refusals(RefusedBadRequest) == 1 })
}

// TestNotTLSIsDropped: what is neither TLS nor version 1 gets no answer.
func TestNotTLSIsDropped(t *testing.T) {
	leakcheck.Check(t)
	r := startRelay(t, nil)
	c := dialRaw(t, r)
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// EOF, or a reset: the relay closes without reading what we sent.
	if got, err := io.ReadAll(c); len(got) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("the relay answered %q, %v", got, err)
	}
	eventually(t, "the refusal", func() bool { return r.refusals(RefusedBadRequest) == 1 })
}

func TestConfigRefusesNoKey(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a key succeeded")
	}
	if _, err := New(Config{Key: relayKey, MaxSessions: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
}
