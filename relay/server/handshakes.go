package server

import (
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/slots"
)

// logEvery paces the relay's log lines about refusals anyone can cause
// (connections over the handshake bounds, version-1 clients): the first at
// once, then at most one a minute with the count.
const logEvery = time.Minute

// takeHandshake takes a slot for a new connection from src (the zero
// Addr: only the overall bound), or counts and (paced) logs a refusal and
// reports false.
func (s *Server) takeHandshake(src netip.Addr) bool {
	bound, ok := s.hs.Take(src)
	if ok {
		return true
	}
	limit := LimitHandshakesPerSource
	if bound == slots.Total {
		limit = LimitMaxHandshakes
	}
	s.m.refusals.WithLabelValues(limit).Inc()
	if n, report := s.hsRefused.Tick(time.Now()); report {
		s.log.Warn("relay handshake slots full; closing new connections at once",
			zap.String("limit", limit), zap.Stringer("from", src), zap.Int("since_last_line", n),
			zap.Int("handshakes_per_source", s.cfg.HandshakesPerSource), zap.Int("max_handshakes", s.cfg.MaxHandshakes))
	}
	return false
}

// releaseHandshake gives back src's slot: the connection said what it is,
// or is gone.
func (s *Server) releaseHandshake(src netip.Addr) { s.hs.Release(src) }
