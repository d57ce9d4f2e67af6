package server

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// reservation is one authenticated control connection.
type reservation struct {
	key   pubkey
	src   netip.Addr
	conn  net.Conn
	since time.Time

	wmu sync.Mutex // serialises writes to conn

	// Guarded by Server.mu.
	live   bool   // counted in reservations and resBySource
	reason string // why it ended, when the server ended it
}

func (r *reservation) send(t wire.Type, payload []byte, timeout time.Duration) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.conn.SetWriteDeadline(time.Now().Add(timeout))
	return wire.Write(r.conn, t, payload)
}

// serveReservation registers a reservation for the key of the client's
// TLS certificate, then answers keepalives until the connection dies.
func (s *Server) serveReservation(c *tls.Conn, src netip.AddrPort) {
	key := clientKey(c)
	if key == nil {
		s.refuse(c, src, RefusedAuth, wire.CodeAuth, "no client certificate")
		return
	}
	r := &reservation{key: pubkey(key), src: src.Addr(), conn: c, since: time.Now()}
	// Nothing may reach the client before Reserved: hold the write lock
	// from the moment callers can find the reservation.
	r.wmu.Lock()
	old, limit := s.addReservation(r)
	if limit != "" {
		r.wmu.Unlock()
		s.refuse(c, src, limit, wire.CodeLimit, limit)
		return
	}
	defer func() {
		s.log.Info("reservation down", fingerprint(key), zap.String("reason", s.dropReservation(r, "closed")),
			zap.Duration("held", time.Since(r.since).Round(time.Millisecond)))
	}()
	if old != nil {
		old.send(wire.Error, wire.ErrorPayload(wire.CodeReplaced, ""), time.Second) //nolint:errcheck // closing anyway
		closeNow(old.conn)
	}
	ka := uint32(s.cfg.KeepAlive / time.Millisecond)
	c.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	err := wire.Write(c, wire.Reserved, wire.ReservedMsg{KeepAliveMS: ka}.Encode())
	r.wmu.Unlock()
	if err != nil {
		return
	}
	s.log.Info("reservation up", fingerprint(key), zap.Stringer("from", src), zap.Bool("replaced", old != nil))
	s.keepalive(r)
}

// keepalive answers pings until the control connection fails or goes
// silent for 3×KeepAlive.
func (s *Server) keepalive(r *reservation) {
	dead := 3 * s.cfg.KeepAlive
	for {
		r.conn.SetReadDeadline(time.Now().Add(dead))
		f, err := wire.Read(r.conn)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.dropReservation(r, "keepalive timeout")
			}
			return
		}
		switch f.Type {
		case wire.Ping:
			if r.send(wire.Pong, nil, dead) != nil {
				return
			}
		case wire.Pong:
		default:
			s.dropReservation(r, "protocol error")
			r.send(wire.Error, wire.ErrorPayload(wire.CodeBadRequest, "unexpected "+f.Type.String()), time.Second) //nolint:errcheck // closing anyway
			return
		}
	}
}

// addReservation registers r, replacing (and returning) an older one for
// the same key, unless the per-source limit refuses it.
func (s *Server) addReservation(r *reservation) (old *reservation, limit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old = s.reservations[r.key]
	n := s.resBySource[r.src]
	if old != nil && old.src == r.src {
		n--
	}
	if n >= s.cfg.ReservationsPerSource {
		return nil, LimitReservationsPerSource
	}
	if old != nil {
		s.removeReservationLocked(old, "replaced")
	}
	s.reservations[r.key] = r
	s.resBySource[r.src]++
	r.live = true
	s.m.reservations.Inc()
	return old, ""
}

// dropReservation unregisters r, unless that happened already, and
// returns why it ended (the first reason given wins).
func (s *Server) dropReservation(r *reservation, reason string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeReservationLocked(r, reason)
	return r.reason
}

func (s *Server) removeReservationLocked(r *reservation, reason string) {
	if !r.live {
		return
	}
	r.live = false
	if s.closing && reason == "closed" {
		reason = "shutdown"
	}
	r.reason = reason
	if s.reservations[r.key] == r {
		delete(s.reservations, r.key)
	}
	if s.resBySource[r.src]--; s.resBySource[r.src] <= 0 {
		delete(s.resBySource, r.src)
	}
	s.m.reservations.Dec()
}
