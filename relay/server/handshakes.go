package server

import (
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// handshakeRefusalLogEvery paces the log lines about connections refused
// for want of a handshake slot.
const handshakeRefusalLogEvery = time.Minute

// handshakeSlots counts the connections still in their handshake, in all
// and per source IP (Config.MaxHandshakes, Config.HandshakesPerSource).
// Its fields are guarded by Server.mu.
type handshakeSlots struct {
	total    int
	bySource map[netip.Addr]int
	refused  int       // connections refused since the last log line
	logged   time.Time // when the last log line was written
}

// takeHandshake takes a slot for a new connection from src (the zero
// Addr: only the overall bound), or counts and (at most once a minute)
// logs a refusal and reports false.
func (s *Server) takeHandshake(src netip.Addr) bool {
	s.mu.Lock()
	h := &s.hs
	limit := ""
	switch {
	case h.total >= s.cfg.MaxHandshakes:
		limit = LimitMaxHandshakes
	case src.IsValid() && h.bySource[src] >= s.cfg.HandshakesPerSource:
		limit = LimitHandshakesPerSource
	default:
		h.total++
		if src.IsValid() {
			h.bySource[src]++
		}
		s.mu.Unlock()
		return true
	}
	h.refused++
	now := time.Now()
	n, report := h.refused, now.Sub(h.logged) >= handshakeRefusalLogEvery
	if report {
		h.refused, h.logged = 0, now
	}
	s.mu.Unlock()
	s.m.refusals.WithLabelValues(limit).Inc()
	if report {
		s.log.Warn("relay handshake slots full; closing new connections at once",
			zap.String("limit", limit), zap.Stringer("from", src), zap.Int("since_last_line", n),
			zap.Int("handshakes_per_source", s.cfg.HandshakesPerSource), zap.Int("max_handshakes", s.cfg.MaxHandshakes))
	}
	return false
}

// releaseHandshake gives back src's slot: the connection said what it is,
// or is gone.
func (s *Server) releaseHandshake(src netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hs.total--
	if src.IsValid() {
		if s.hs.bySource[src]--; s.hs.bySource[src] <= 0 {
			delete(s.hs.bySource, src)
		}
	}
}
