package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/tlsident"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

var refusalCodes = []string{wire.CodeNoReservation, wire.CodeTimeout, wire.CodeLimit, wire.CodeAuth,
	wire.CodeUnknownToken, wire.CodeBadRequest, wire.CodeReplaced, wire.CodeShutdown}

// fuzzRelay runs a relay on loopback for a fuzz target, with bob holding a
// reservation that nothing may end (nobody accepts for him: a connect to
// his key reaches the join, which times out).
func fuzzRelay(f *testing.F) (relay.Addr, *relay.Reservation) {
	s, err := New(Config{Key: relayKey, Log: zap.NewNop(), JoinTimeout: 20 * time.Millisecond, HandshakeTimeout: 2 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	f.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			f.Errorf("Serve: %v", err)
		}
	})
	addr := s.Addr(ln.Addr().String())
	res, err := relay.Reserve(ctx, addr, bob, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { res.Close() })
	return addr, res
}

// FuzzConnection opens a TCP connection to a real relay on loopback,
// sends arbitrary bytes and half-closes: what comes before TLS. Whatever
// was sent, the relay closes the connection promptly, bob's reservation
// survives, and the answer is
//   - version 1's refusal, exactly, when the first byte is version 1's;
//   - TLS records (an alert, a ServerHello) or nothing, when it is a TLS
//     handshake record's;
//   - nothing otherwise.
func FuzzConnection(f *testing.F) {
	for _, seed := range [][]byte{
		{wire.V1, 1, 0, 0},
		append([]byte{wire.V1, 8, 0, 32}, pub(bob)...),
		{22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3},
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		wire.Append(nil, wire.Reserve, nil),
		{},
	} {
		f.Add(seed)
	}
	addr, res := fuzzRelay(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", addr.HostPort)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(data); err != nil && !isReset(err) {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		answer, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("the relay kept the connection: %v (sent %q, answer so far %x)", err, data, answer)
		}
		switch {
		case len(data) > 0 && data[0] == wire.V1:
			// All of it, unless the relay's close (with our bytes
			// unread) reset the connection first.
			if !bytes.HasPrefix(wire.V1Refusal(), answer) || (err == nil && len(answer) != len(wire.V1Refusal())) {
				t.Fatalf("a version-1 client got %q (%v)", answer, err)
			}
		case len(data) > 0 && data[0] == tlsRecordHandshake:
			if len(answer) > 0 && answer[0] != 21 && answer[0] != 22 {
				t.Fatalf("a TLS client got %x", answer)
			}
		case len(answer) > 0:
			t.Fatalf("sent %x, got %x", data, answer)
		}
		if err := res.Err(); err != nil {
			t.Fatalf("bob's reservation ended: %v", err)
		}
	})
}

// FuzzTLSFrames opens a TLS connection to a real relay on loopback, with
// alice's client certificate, sends arbitrary bytes inside it and
// half-closes. Whatever was sent:
//   - the relay closes the connection promptly, having sent only whole
//     frames: Reserved (after a reserve; alice's reservation) and then
//     Pongs, and at most one error, last, whose code is one the protocol
//     defines;
//   - bob's reservation survives, since nothing unauthenticated may end it.
func FuzzTLSFrames(f *testing.F) {
	for _, seed := range [][]byte{
		wire.Append(nil, wire.Reserve, nil),
		append(wire.Append(nil, wire.Reserve, nil), wire.Append(nil, wire.Ping, nil)...),
		append(wire.Append(nil, wire.Reserve, nil), wire.Append(nil, wire.OK, nil)...),
		wire.Append(nil, wire.Connect, pub(bob)),
		wire.Append(nil, wire.Connect, pub(carol)),
		wire.Append(nil, wire.Connect, pub(bob)[:31]),
		wire.Append(nil, wire.Accept, make([]byte, wire.TokenSize)),
		wire.Append(nil, wire.Ping, nil),
		wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeLimit, "x")),
		{wire.V1, 1, 0, 0},
		{wire.Version, 6, 0xff, 0xff},
		{},
	} {
		f.Add(seed)
	}
	addr, res := fuzzRelay(f)
	cert, err := tlsident.Certificate(alice)
	if err != nil {
		f.Fatal(err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, InsecureSkipVerify: true,
		Certificates: []tls.Certificate{cert}}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := tls.Dial("tcp", addr.HostPort, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(data); err != nil && !isReset(err) {
			t.Fatal(err)
		}
		c.CloseWrite()
		answer, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("the relay kept the connection: %v (sent %q, answer so far %x)", err, data, answer)
		}
		checkRelayAnswer(t, data, answer)
		if err := res.Err(); err != nil {
			t.Fatalf("bob's reservation ended: %v", err)
		}
	})
}

// isReset: the relay may close while we still write, or before it read
// everything we sent (the kernel then resets the connection).
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

func checkRelayAnswer(t *testing.T, sent, answer []byte) {
	t.Helper()
	reserved := false
	r := bytes.NewReader(answer)
	for i := 0; r.Len() > 0; i++ {
		f, err := wire.Read(r)
		if err != nil {
			t.Fatalf("answer %x is not whole frames: %v", answer, err)
		}
		switch {
		case i == 0 && f.Type == wire.Reserved && bytes.HasPrefix(sent, wire.Append(nil, wire.Reserve, nil)):
			if _, err := wire.ParseReserved(f.Payload); err != nil {
				t.Fatal(err)
			}
			reserved = true
		case reserved && f.Type == wire.Pong:
		case f.Type == wire.Error && r.Len() == 0:
			var re *wire.RefusedError
			if err := wire.ParseError(f.Payload); !errors.As(err, &re) || !slices.Contains(refusalCodes, re.Code) {
				t.Fatalf("error frame %q: %v", f.Payload, err)
			}
		default:
			t.Fatalf("frame %d of the answer is %v %x (answer %x to %x)", i, f.Type, f.Payload, answer, sent)
		}
	}
}
