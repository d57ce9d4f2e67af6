package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// fuzzConn is a relay that says data, whatever it is told. What the
// client writes is kept in sent.
type fuzzConn struct {
	r    *bytes.Reader
	sent bytes.Buffer
}

func newFuzzConn(data []byte) *fuzzConn { return &fuzzConn{r: bytes.NewReader(data)} }

func (c *fuzzConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *fuzzConn) Write(b []byte) (int, error)      { return c.sent.Write(b) }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

func (c *fuzzConn) dial(context.Context, string, string) (net.Conn, error) { return c, nil }

var (
	fuzzRelayKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{100}, ed25519.SeedSize))
	fuzzClient   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	fuzzAddr     = Addr{HostPort: "relay.test:7072", Key: fuzzRelayKey.Public().(ed25519.PublicKey)}
)

// checkRelayErr: every failure caused by what a relay said matches one of
// the package's sentinels, a *RefusedError, or the stream ending early.
func checkRelayErr(t *testing.T, err error) {
	t.Helper()
	var re *RefusedError
	for _, s := range []error{ErrWrongRelayKey, ErrBadRelaySignature, ErrProtocol, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, s) {
			return
		}
	}
	if !errors.As(err, &re) {
		t.Fatalf("error matches no sentinel: %v", err)
	}
}

// FuzzReserve runs Reserve against a relay that answers with arbitrary
// bytes. A relay that does not hold the key in the address cannot sign
// the client's fresh nonce, so no answer may make Reserve succeed; every
// failure is classified (checkRelayErr), and a refusal in an Error frame
// matches the sentinel for its code.
func FuzzReserve(f *testing.F) {
	relayPub := fuzzAddr.Key
	challenge := wire.Append(nil, wire.Challenge, wire.ChallengeMsg{RelayKey: relayPub, Nonce: make([]byte, wire.NonceSize)}.Encode())
	f.Add(append(append([]byte{}, challenge...), wire.Append(nil, wire.Reserved, wire.ReservedMsg{Sig: make([]byte, 64), KeepAliveMS: 10000}.Encode())...))
	f.Add(append(append([]byte{}, challenge...), wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeLimit, "reservations_per_source"))...))
	f.Add(wire.Append(nil, wire.Challenge, wire.ChallengeMsg{RelayKey: make([]byte, 32), Nonce: make([]byte, wire.NonceSize)}.Encode()))
	f.Add(wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeShutdown, "")))
	f.Add([]byte{2, 2, 0, 0})
	f.Add([]byte{1, 2, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newFuzzConn(data)
		res, err := Reserve(context.Background(), fuzzAddr, fuzzClient, c.dial)
		if err == nil {
			res.Close()
			t.Fatal("a reservation without the relay's signature over our nonce")
		}
		checkRelayErr(t, err)
		if f, ferr := wire.Read(bytes.NewReader(data)); ferr == nil && f.Type == wire.Error {
			checkRefusal(t, err, f.Payload)
		}
	})
}

// checkRefusal: an error that came from an Error frame with payload p
// says the same refusal, and matches the sentinel for its code.
func checkRefusal(t *testing.T, err error, p []byte) {
	t.Helper()
	var want *RefusedError
	if !errors.As(wire.ParseError(p), &want) {
		if !errors.Is(err, ErrProtocol) {
			t.Fatalf("malformed error frame %q gave %v, want ErrProtocol", p, err)
		}
		return
	}
	var got *RefusedError
	if !errors.As(err, &got) || *got != *want {
		t.Fatalf("refusal %q gave %v", p, err)
	}
	if s, ok := codeErrors[want.Code]; ok && !errors.Is(err, s) {
		t.Fatalf("refusal %q does not match %v", p, s)
	}
}

// FuzzConnect runs Connect against a relay that answers with arbitrary
// bytes. It succeeds exactly when the first frame is OK, and then the
// bytes after that frame (the relayed stream) are still unread on the
// connection it returns; any other first frame is a classified error.
func FuzzConnect(f *testing.F) {
	f.Add(append(wire.Append(nil, wire.OK, nil), "\x16\x03\x01 tls hello"...))
	f.Add(wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeNoReservation, "")))
	f.Add(wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeLimit, "max_sessions")))
	f.Add(wire.Append(nil, wire.Error, []byte("Bad code")))
	f.Add(wire.Append(nil, wire.Pong, nil))
	f.Add([]byte{1, 10, 0})
	f.Add([]byte{})
	target := fuzzClient.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newFuzzConn(data)
		conn, err := Connect(context.Background(), fuzzAddr, target, c.dial)
		first, ferr := wire.Read(bytes.NewReader(data))
		if err != nil {
			if ferr == nil && first.Type == wire.OK {
				t.Fatalf("OK first, yet %v", err)
			}
			checkRelayErr(t, err)
			if ferr == nil && first.Type == wire.Error {
				checkRefusal(t, err, first.Payload)
			}
			return
		}
		if ferr != nil || first.Type != wire.OK {
			t.Fatalf("connected on %v %v", first.Type, ferr)
		}
		rest, _ := io.ReadAll(conn)
		if want := data[wire.HeaderSize+len(first.Payload):]; !bytes.Equal(rest, want) {
			t.Fatalf("the relayed stream lost bytes: left %q, want %q", rest, want)
		}
		if want := wire.Append(nil, wire.Connect, target); !bytes.Equal(c.sent.Bytes(), want) {
			t.Fatalf("sent %x, want one connect frame %x", c.sent.Bytes(), want)
		}
	})
}

// FuzzControlStream feeds a held reservation's control connection
// arbitrary frames from the relay. The reader must answer each Ping with
// one Pong, queue each well-formed Incoming notice (up to its queue), end
// on anything else with an error matching ErrClosed, and, for a refusal,
// the refusal's sentinel too.
func FuzzControlStream(f *testing.F) {
	in := wire.IncomingMsg{Token: wire.Token{1}, From: netip.MustParseAddrPort("[2001:db8::1]:7171")}
	f.Add(append(wire.Append(nil, wire.Ping, nil), wire.Append(nil, wire.Incoming, in.Encode())...))
	f.Add(append(wire.Append(nil, wire.Pong, nil), wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeReplaced, ""))...))
	f.Add(wire.Append(nil, wire.Incoming, append(make([]byte, 16), "999.1.1.1:1"...)))
	f.Add(wire.Append(nil, wire.OK, nil))
	f.Add(bytes.Repeat(wire.Append(nil, wire.Incoming, in.Encode()), incomingQueue+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newFuzzConn(data)
		r := &Reservation{addr: fuzzAddr, conn: c, keepAlive: time.Second,
			incoming: make(chan Incoming, incomingQueue), done: make(chan struct{})}
		r.wg.Add(1)
		r.readLoop()
		err := r.Err()
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("read loop ended with %v, want ErrClosed", err)
		}
		var pings, incoming int
		var last wire.Frame
		src := bytes.NewReader(data)
		for {
			fr, err := wire.Read(src)
			if err != nil {
				break
			}
			last = fr
			if fr.Type == wire.Ping {
				pings++
			}
			if fr.Type == wire.Incoming {
				if _, err := wire.ParseIncoming(fr.Payload); err != nil {
					break
				}
				incoming++
			}
			if fr.Type != wire.Ping && fr.Type != wire.Pong && fr.Type != wire.Incoming {
				break
			}
		}
		if want := bytes.Repeat(wire.Append(nil, wire.Pong, nil), pings); !bytes.Equal(c.sent.Bytes(), want) {
			t.Fatalf("%d pings answered with %x", pings, c.sent.Bytes())
		}
		if got := len(r.incoming); got != min(incoming, incomingQueue) {
			t.Fatalf("%d incoming notices queued, want %d", got, min(incoming, incomingQueue))
		}
		if last.Type == wire.Error {
			checkRefusal(t, err, last.Payload)
		}
	})
}
