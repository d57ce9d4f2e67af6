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

// FuzzReserve runs the reservation request (what Reserve sends once TLS
// has proved both keys) against a relay that answers with arbitrary
// bytes. It sends exactly one Reserve frame; it succeeds exactly when the
// first frame is a well-formed Reserved, with that keepalive clamped to
// the client's bounds; every failure is classified (checkRelayErr), and a
// refusal in an Error frame matches the sentinel for its code.
func FuzzReserve(f *testing.F) {
	f.Add(wire.Append(nil, wire.Reserved, wire.ReservedMsg{KeepAliveMS: 10000}.Encode()))
	f.Add(wire.Append(nil, wire.Reserved, wire.ReservedMsg{KeepAliveMS: 1<<32 - 1}.Encode()))
	f.Add(wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeLimit, "reservations_per_source")))
	f.Add(wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeAuth, "no client certificate")))
	f.Add(wire.Append(nil, wire.Reserved, []byte{0, 1}))
	f.Add([]byte{wire.V1, 4, 0, 0})
	f.Add([]byte{wire.Version, 2, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newFuzzConn(data)
		ka, err := reserve(c)
		if want := wire.Append(nil, wire.Reserve, nil); !bytes.Equal(c.sent.Bytes(), want) {
			t.Fatalf("sent %x, want one reserve frame %x", c.sent.Bytes(), want)
		}
		first, ferr := wire.Read(bytes.NewReader(data))
		wellFormed := ferr == nil && first.Type == wire.Reserved && len(first.Payload) == 4
		if err != nil {
			if wellFormed {
				t.Fatalf("a well-formed reserved frame, yet %v", err)
			}
			checkRelayErr(t, err)
			if ferr == nil && first.Type == wire.Error {
				checkRefusal(t, err, first.Payload)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("reserved on %v %x (%v)", first.Type, first.Payload, ferr)
		}
		m, _ := wire.ParseReserved(first.Payload)
		if want := min(max(time.Duration(m.KeepAliveMS)*time.Millisecond, minKeepAlive), maxKeepAlive); ka != want {
			t.Fatalf("keepalive %v, want %v", ka, want)
		}
	})
}

// FuzzRelayTLSAnswer answers the client's TLS ClientHello with arbitrary
// bytes. Without the relay's key nothing can complete the handshake, so
// dialTLS always fails, and an answer that starts like a version-1 frame
// (a version-1 relay refuses what it reads as a bad frame) is
// reported as ErrOldRelay, which matches ErrProtocol too.
func FuzzRelayTLSAnswer(f *testing.F) {
	f.Add(wire.V1Refusal())
	f.Add([]byte("\x01\x0b\x00\x0bbad_request"))
	f.Add([]byte("\x01\x0b\x00\x0bbad"))
	f.Add([]byte("\x15\x03\x03\x00\x02\x02\x78")) // alert: no_application_protocol
	f.Add([]byte("\x16\x03\x03\x00\x04\x02\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newFuzzConn(data)
		conn, err := dialTLS(context.Background(), c.dial, fuzzAddr, nil, time.Second)
		if err == nil {
			conn.Close()
			t.Fatal("a TLS handshake completed without the relay's key")
		}
		if len(data) >= 5 && data[0] == wire.V1 {
			if !errors.Is(err, ErrOldRelay) || !errors.Is(err, ErrProtocol) {
				t.Fatalf("a version-1 answer %x gave %v, want ErrOldRelay", data, err)
			}
		} else if errors.Is(err, ErrOldRelay) {
			t.Fatalf("answer %x gave %v", data, err)
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

// FuzzConnect runs a caller's request (what Connect sends once TLS is
// up) against a relay that answers with arbitrary bytes. It succeeds
// exactly when the first frame is OK, and then the bytes after that frame
// (the relayed stream) are still unread on the connection; any other
// first frame is a classified error.
func FuzzConnect(f *testing.F) {
	f.Add(append(wire.Append(nil, wire.OK, nil), "\x16\x03\x01 tls hello"...))
	f.Add(wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeNoReservation, "")))
	f.Add(wire.Append(nil, wire.Error, wire.ErrorPayload(wire.CodeLimit, "max_sessions")))
	f.Add(wire.Append(nil, wire.Error, []byte("Bad code")))
	f.Add(wire.Append(nil, wire.Pong, nil))
	f.Add([]byte{wire.Version, byte(wire.OK), 0})
	f.Add([]byte{})
	target := fuzzClient.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newFuzzConn(data)
		err := request(c, wire.Connect, target)
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
		rest, _ := io.ReadAll(c)
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
