package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

var refusalCodes = []string{wire.CodeNoReservation, wire.CodeTimeout, wire.CodeLimit, wire.CodeAuth,
	wire.CodeUnknownToken, wire.CodeBadRequest, wire.CodeReplaced, wire.CodeShutdown}

// FuzzConnection opens a connection to a real relay on loopback, sends
// arbitrary bytes and half-closes. bob holds a reservation, so a connect
// to his key reaches the join (which times out: nobody accepts). Whatever
// was sent:
//   - the relay closes the connection promptly, having sent only whole
//     frames: a challenge (after a reserve) and at most one error, whose
//     code is one the protocol defines;
//   - bob's reservation survives, since nothing unauthenticated may end it.
func FuzzConnection(f *testing.F) {
	bobPub := pub(bob)
	nonce := make([]byte, wire.NonceSize)
	auth := wire.AuthMsg{ClientKey: pub(alice), Nonce: nonce, Sig: make([]byte, 64)}
	for _, seed := range [][]byte{
		wire.Append(nil, wire.Reserve, nil),
		append(wire.Append(nil, wire.Reserve, nil), wire.Append(nil, wire.Auth, auth.Encode())...),
		append(wire.Append(nil, wire.Reserve, nil), wire.Append(nil, wire.Auth, auth.Encode()[:90])...),
		append(wire.Append(nil, wire.Reserve, nil), wire.Append(nil, wire.Ping, nil)...),
		wire.Append(nil, wire.Connect, bobPub),
		wire.Append(nil, wire.Connect, pub(carol)),
		wire.Append(nil, wire.Connect, bobPub[:31]),
		wire.Append(nil, wire.Accept, make([]byte, wire.TokenSize)),
		wire.Append(nil, wire.Ping, nil),
		wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeLimit, "x")),
		{2, 1, 0, 0},
		{1, 8, 0xff, 0xff},
		{},
	} {
		f.Add(seed)
	}
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
	r := bytes.NewReader(answer)
	for i := 0; r.Len() > 0; i++ {
		f, err := wire.Read(r)
		if err != nil {
			t.Fatalf("answer %x is not whole frames: %v", answer, err)
		}
		switch {
		case i == 0 && f.Type == wire.Challenge && len(sent) >= wire.HeaderSize && sent[1] == byte(wire.Reserve):
			if _, err := wire.ParseChallenge(f.Payload); err != nil {
				t.Fatal(err)
			}
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
