package relay

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"time"

	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// DialFunc opens a connection; net.Dialer.DialContext is one. chatd passes
// a dialer that binds its listening port, so the relay sees the same NAT
// mapping as everyone else.
type DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// Client-side bounds on the steps before a connection is spliced, used
// when ctx has no earlier deadline.
const (
	handshakeTimeout = 15 * time.Second // TLS; Reserve's handshake; accepting one incoming connection
	connectTimeout   = 30 * time.Second // Connect, which waits for the target to accept
)

// bound gives conn a deadline of the earlier of ctx's and now+d, and
// interrupts it when ctx is cancelled. release clears both.
func bound(ctx context.Context, conn net.Conn, d time.Duration) (release func()) {
	dl := time.Now().Add(d)
	if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
		dl = cd
	}
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		conn.SetDeadline(time.Time{})
	}
}

// ctxErr prefers the context's error to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// request sends one frame and waits for OK; anything else is the error.
func request(conn net.Conn, t wire.Type, payload []byte) error {
	if err := wire.Write(conn, t, payload); err != nil {
		return err
	}
	f, err := wire.Read(conn)
	if err != nil {
		return refused(err)
	}
	return refused(wire.Expect(f, wire.OK))
}

// Connect asks the relay at a for a connection to the holder of target's
// reservation and returns it once the target has accepted. The connection
// carries the caller's bytes to the target and back, nothing else; run the
// end-to-end TLS session over it and check the peer's key there: the relay
// proved a.Key (a relay with another key fails with ErrWrongRelayKey), but
// only the target's own TLS proves who answered.
//
// The request travels inside TLS, so only the relay learns which key was
// asked for; the caller shows the relay no key of its own.
//
// Refusals match ErrNoReservation, ErrJoinTimeout or ErrLimit.
func Connect(ctx context.Context, a Addr, target ed25519.PublicKey, dial DialFunc) (net.Conn, error) {
	start := time.Now()
	conn, err := dialTLS(ctx, dial, a, nil, connectTimeout)
	if err != nil {
		return nil, fmt.Errorf("relay connect: %w", err)
	}
	release := bound(ctx, conn, connectTimeout-time.Since(start))
	err = request(conn, wire.Connect, target)
	release()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relay connect via %s: %w", a.HostPort, ctxErr(ctx, err))
	}
	return relayedConn{conn}, nil
}
