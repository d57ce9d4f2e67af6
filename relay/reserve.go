package relay

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/internal/tlsident"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// Keepalive bounds: the relay chooses the interval, the client accepts it
// only within these.
const (
	minKeepAlive = 50 * time.Millisecond
	maxKeepAlive = 5 * time.Minute
	// deadAfter keepalive intervals without a frame, the other side is dead.
	deadAfter = 3
	// incomingQueue notices wait for Accept; more are dropped (the caller
	// then sees a join timeout) rather than stall the keepalives.
	incomingQueue = 32
)

// Incoming describes a relayed connection a caller asked for.
type Incoming struct {
	// From is the caller's address as the relay observed it.
	From  netip.AddrPort
	token wire.Token
}

// Reservation is a live reservation on one relay: while it lasts, the
// relay forwards connections for this key. Its methods are safe for
// concurrent use.
//
// It owns two goroutines, both stopped by Close or by the control
// connection dying: a reader (answers pings, queues incoming notices,
// notices a dead relay) and a pinger.
type Reservation struct {
	addr      Addr
	dial      DialFunc
	conn      net.Conn
	keepAlive time.Duration
	incoming  chan Incoming

	wmu sync.Mutex // serialises writes to conn

	done      chan struct{} // closed when the reservation ends
	closeOnce sync.Once
	err       error // why it ended; written before done is closed
	wg        sync.WaitGroup
}

// Reserve connects to the relay at a, checks that the relay holds a.Key
// (a relay with another key fails with ErrWrongRelayKey), proves it holds
// id with its TLS client certificate, and returns the reservation. dial
// nil means a plain net.Dialer; it is also used for every connection
// Accept opens.
//
// There is no reconnect loop here: when Done is closed, make a new
// reservation (with backoff) if it is still wanted.
func Reserve(ctx context.Context, a Addr, id ed25519.PrivateKey, dial DialFunc) (*Reservation, error) {
	if len(a.Key) != ed25519.PublicKeySize || len(id) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("relay reserve: bad key length")
	}
	cert, err := tlsident.Certificate(id)
	if err != nil {
		return nil, fmt.Errorf("relay reserve: %w", err)
	}
	start := time.Now()
	conn, err := dialTLS(ctx, dial, a, &cert, handshakeTimeout)
	if err != nil {
		return nil, fmt.Errorf("relay reserve: %w", err)
	}
	release := bound(ctx, conn, handshakeTimeout-time.Since(start))
	ka, err := reserve(conn)
	release()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relay reserve at %s: %w", a.HostPort, ctxErr(ctx, err))
	}
	r := &Reservation{addr: a, dial: dial, conn: conn, keepAlive: ka,
		incoming: make(chan Incoming, incomingQueue), done: make(chan struct{})}
	r.wg.Add(2)
	go r.readLoop()
	go r.pingLoop()
	return r, nil
}

// reserve asks for the reservation on a connection whose TLS handshake
// has proved both keys, and returns the keepalive interval the relay
// asked for.
func reserve(conn net.Conn) (time.Duration, error) {
	if err := wire.Write(conn, wire.Reserve, nil); err != nil {
		return 0, err
	}
	f, err := wire.Read(conn)
	if err != nil {
		return 0, refused(err)
	}
	if err := wire.Expect(f, wire.Reserved); err != nil {
		return 0, refused(err)
	}
	rm, err := wire.ParseReserved(f.Payload)
	if err != nil {
		return 0, refused(err)
	}
	ka := time.Duration(rm.KeepAliveMS) * time.Millisecond
	return min(max(ka, minKeepAlive), maxKeepAlive), nil
}

// Addr is the relay this reservation is held on.
func (r *Reservation) Addr() Addr { return r.addr }

// Done is closed when the reservation ends: Close, a dead or closed control
// connection, or a newer reservation for the same key. Err says which.
func (r *Reservation) Done() <-chan struct{} { return r.done }

// Err is nil while the reservation lasts, then why it ended (ErrClosed
// after Close; ErrReplaced when a newer one took over).
func (r *Reservation) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Close ends the reservation and waits for its goroutines. It is safe to
// call more than once.
func (r *Reservation) Close() error {
	r.end(ErrClosed)
	r.wg.Wait()
	return nil
}

func (r *Reservation) end(err error) {
	r.closeOnce.Do(func() {
		r.err = err
		close(r.done)
		closeNow(r.conn)
	})
}

func (r *Reservation) readLoop() {
	defer r.wg.Done()
	dead := deadAfter * r.keepAlive
	for {
		r.conn.SetReadDeadline(time.Now().Add(dead))
		f, err := wire.Read(r.conn)
		if err != nil {
			r.end(fmt.Errorf("%w: control connection: %w", ErrClosed, err))
			return
		}
		switch f.Type {
		case wire.Ping:
			if err := r.write(wire.Pong, nil); err != nil {
				r.end(fmt.Errorf("%w: control connection: %w", ErrClosed, err))
				return
			}
		case wire.Pong:
		case wire.Incoming:
			m, err := wire.ParseIncoming(f.Payload)
			if err != nil {
				r.end(fmt.Errorf("%w: %w", ErrClosed, refused(err)))
				return
			}
			select {
			case r.incoming <- Incoming{From: m.From, token: m.Token}:
			default:
			}
		case wire.Error:
			r.end(fmt.Errorf("%w: %w", ErrClosed, refused(wire.ParseError(f.Payload))))
			return
		default:
			r.end(fmt.Errorf("%w: %w: unexpected %v frame", ErrClosed, ErrProtocol, f.Type))
			return
		}
	}
}

func (r *Reservation) pingLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.keepAlive)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
			if err := r.write(wire.Ping, nil); err != nil {
				r.end(fmt.Errorf("%w: control connection: %w", ErrClosed, err))
				return
			}
		}
	}
}

func (r *Reservation) write(t wire.Type, payload []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.conn.SetWriteDeadline(time.Now().Add(deadAfter * r.keepAlive))
	return wire.Write(r.conn, t, payload)
}

// Accept waits for the next caller and returns the relayed connection to
// it, already joined: its bytes are the caller's. An error matching
// ErrClosed (or ctx's error) means no more will come; any other error is
// about this one caller (it gave up, or the join failed), and the next
// Accept may well succeed.
func (r *Reservation) Accept(ctx context.Context) (net.Conn, Incoming, error) {
	var in Incoming
	select {
	case <-ctx.Done():
		return nil, in, fmt.Errorf("relay accept: %w", ctx.Err())
	case <-r.done:
		return nil, in, fmt.Errorf("relay accept: %w", r.err)
	case in = <-r.incoming:
	}
	start := time.Now()
	conn, err := dialTLS(ctx, r.dial, r.addr, nil, handshakeTimeout)
	if err != nil {
		return nil, in, fmt.Errorf("relay accept from %v: %w", in.From, err)
	}
	release := bound(ctx, conn, handshakeTimeout-time.Since(start))
	err = request(conn, wire.Accept, in.token[:])
	release()
	if err != nil {
		conn.Close()
		return nil, in, fmt.Errorf("relay accept from %v: %w", in.From, ctxErr(ctx, err))
	}
	return relayedConn{conn}, in, nil
}
