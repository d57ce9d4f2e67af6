package server

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/p2pchat/p2pchat/internal/pace"
	"github.com/p2pchat/p2pchat/internal/slots"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
	"github.com/p2pchat/p2pchat/tracker/record"
)

type pubkey [ed25519.PublicKeySize]byte

// Server is a relay. Make it with New, run it with Serve.
//
// Goroutines: Serve's accept loop, and one goroutine per accepted
// connection, which lives exactly as long as the connection: a control
// connection's serves its reservation; a caller's and a target's each copy
// one direction of their joined session. Idle checks run on timers.
// Serve waits for all of them before it returns.
type Server struct {
	cfg    Config
	log    *zap.Logger
	pub    ed25519.PublicKey
	tls    *tls.Config
	m      *metrics
	global *rate.Limiter   // nil: no global bandwidth cap
	base   context.Context // cancelled when Serve begins to stop; ends limiter waits and joins
	cancel context.CancelFunc
	wg     sync.WaitGroup

	hs         *slots.Slots // connections in their TLS handshake
	hsRefused  *pace.Pacer  // connections refused for want of a handshake slot
	oldClients *pace.Pacer  // version-1 clients refused

	mu           sync.Mutex // guards the fields below
	closing      bool
	conns        map[net.Conn]struct{} // every open connection, closed on shutdown
	reservations map[pubkey]*reservation
	resBySource  map[netip.Addr]int
	pending      map[wire.Token]*join
	sessions     int // waiting and joined
	byTarget     map[pubkey]int
	bySource     map[netip.Addr]int
}

// New checks cfg, fills in its defaults and makes a server.
func New(cfg Config) (*Server, error) {
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: cfg.Log, pub: cfg.Key.Public().(ed25519.PublicKey), m: newMetrics(),
		conns:        make(map[net.Conn]struct{}),
		reservations: make(map[pubkey]*reservation),
		resBySource:  make(map[netip.Addr]int),
		pending:      make(map[wire.Token]*join),
		byTarget:     make(map[pubkey]int),
		bySource:     make(map[netip.Addr]int),
		hs:           slots.New(cfg.MaxHandshakes, cfg.HandshakesPerSource),
		hsRefused:    pace.Every(logEvery),
		oldClients:   pace.Every(logEvery),
	}
	var err error
	if s.tls, err = newTLSConfig(cfg.Key); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	if cfg.GlobalRate > 0 {
		s.global = rate.NewLimiter(rate.Limit(cfg.GlobalRate), copyBufSize)
	}
	return s, nil
}

// PublicKey is the relay's identity, the KEY of its relay address.
func (s *Server) PublicKey() ed25519.PublicKey { return s.pub }

// Addr is the relay address to publish for a relay reachable at hostPort.
func (s *Server) Addr(hostPort string) relay.Addr { return relay.Addr{HostPort: hostPort, Key: s.pub} }

// Serve accepts connections on ln until ctx is cancelled, then closes ln
// and every connection, waits for every goroutine it started and returns
// nil. Any other failure of ln is returned, after the same cleanup. Call
// it once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("relay serve: %w", aerr)
				break
			}
			// Out of file descriptors and the like: let it pass.
			s.log.Warn("relay accept", zap.Error(aerr))
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		src := sourceOf(c)
		if !s.takeHandshake(src.Addr()) {
			c.Close() // before any byte: a flood costs an accept and a close
			continue
		}
		if !s.track(c) {
			s.releaseHandshake(src.Addr())
			c.Close()
			break
		}
		s.wg.Add(1)
		go s.handle(c, src)
	}
	ln.Close()
	s.shutdown()
	s.wg.Wait()
	return err
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// shutdown closes every connection; their goroutines then end.
func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.closing = true
	s.cancel()
	for c := range s.conns {
		c.Close()
	}
}

// handle runs a new connection's TLS handshake, then hands the
// connection to serve on a new goroutine, with its handshake slot, which
// serve gives back once the first frame is read. The handshake (ML-KEM, X25519,
// Ed25519, x509) grows a goroutine's stack to 16 KiB or more, which would
// stay with a connection that lives for hours; a fresh goroutine's stack
// grows only to what serving takes.
func (s *Server) handle(c net.Conn, src netip.AddrPort) {
	defer s.wg.Done()
	c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	tc := s.startTLS(c, src)
	if tc == nil {
		s.releaseHandshake(src.Addr())
		s.untrack(c)
		return
	}
	s.wg.Add(1)
	go s.serve(c, tc, src)
}

// serve reads a connection's first frame, which says what it is, and
// serves it. The frame shares the handshake deadline with the TLS
// handshake.
func (s *Server) serve(c net.Conn, tc *tls.Conn, src netip.AddrPort) {
	defer s.wg.Done()
	defer s.untrack(c)
	f, err := wire.Read(tc)
	s.releaseHandshake(src.Addr())
	if err != nil {
		s.readFailed(tc, src, err)
		return
	}
	switch f.Type {
	case wire.Reserve:
		if len(f.Payload) != 0 {
			s.refuse(tc, src, RefusedBadRequest, wire.CodeBadRequest, "malformed reserve")
			return
		}
		s.serveReservation(tc, src)
	case wire.Connect:
		s.serveConnect(tc, src, f.Payload)
	case wire.Accept:
		s.serveAccept(tc, src, f.Payload)
	default:
		s.refuse(tc, src, RefusedBadRequest, wire.CodeBadRequest, "unexpected "+f.Type.String())
	}
}

// readFailed accounts for a handshake read that failed: a timeout or bad
// input is a refusal, a peer that hung up is nothing worth counting.
func (s *Server) readFailed(c net.Conn, src netip.AddrPort, err error) {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		s.m.refusals.WithLabelValues(RefusedHandshakeTimeout).Inc()
		s.log.Debug("relay handshake timed out", zap.Stringer("from", src))
	case errors.Is(err, wire.ErrVersion), errors.Is(err, wire.ErrType), errors.Is(err, wire.ErrTooLarge):
		s.refuse(c, src, RefusedBadRequest, wire.CodeBadRequest, "")
	}
}

// refuse counts a refusal and tells the client why.
func (s *Server) refuse(c net.Conn, src netip.AddrPort, reason, code, detail string) {
	s.m.refusals.WithLabelValues(reason).Inc()
	s.log.Debug("relay refused", zap.String("reason", reason), zap.Stringer("from", src))
	c.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	wire.Write(c, wire.Error, wire.ErrorPayload(code, detail)) //nolint:errcheck // closing anyway
}

func sourceOf(c net.Conn) netip.AddrPort {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func fingerprint(k []byte) zap.Field { return zap.String("key", record.Fingerprint(k)) }
