package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// join is a caller waiting for its target to accept.
type join struct {
	token  wire.Token
	target pubkey
	src    netip.Addr
	// accepted carries the target's connection to the caller's goroutine,
	// exactly once, from whoever took the join out of pending.
	accepted chan net.Conn
	// start answers it, exactly once: the session to run, or nil.
	start chan *session
}

// serveConnect serves a caller: find the target's reservation, notify it,
// wait for it to accept, then copy the caller's bytes to the target for
// the rest of the session.
func (s *Server) serveConnect(c net.Conn, src netip.AddrPort, payload []byte) {
	target, err := wire.ParseConnect(payload)
	if err != nil {
		s.refuse(c, src, RefusedBadRequest, wire.CodeBadRequest, "malformed connect")
		return
	}
	j := &join{target: pubkey(target), src: src.Addr(), accepted: make(chan net.Conn, 1), start: make(chan *session, 1)}
	rand.Read(j.token[:])
	res, refusal := s.addJoin(j)
	if refusal != "" {
		code, detail := wire.CodeLimit, refusal
		if refusal == RefusedNoReservation {
			code, detail = wire.CodeNoReservation, ""
		}
		s.refuse(c, src, refusal, code, detail)
		return
	}
	// Uncount the session before telling the caller it failed, so that a
	// retry finds the slot free.
	release := sync.OnceFunc(func() { s.endJoin(j) })
	defer release()
	if err := res.send(wire.Incoming, wire.IncomingMsg{Token: j.token, From: src}.Encode(), s.cfg.HandshakeTimeout); err != nil {
		closeNow(res.conn) // a control connection that cannot take a notice is no use
		if s.dropJoin(j) {
			release()
			s.refuse(c, src, RefusedNoReservation, wire.CodeNoReservation, "")
			return
		}
	}
	tc := s.awaitTarget(j)
	if tc == nil {
		release()
		s.refuse(c, src, RefusedJoinTimeout, wire.CodeTimeout, "")
		return
	}
	sess := s.newSession(j, c, tc)
	if !sess.greet() {
		j.start <- nil
		return
	}
	j.start <- sess
	sess.pipe(tc, c)
}

// awaitTarget returns the target's connection, or nil after the join
// timeout or on shutdown.
func (s *Server) awaitTarget(j *join) net.Conn {
	t := time.NewTimer(s.cfg.JoinTimeout)
	defer t.Stop()
	select {
	case tc := <-j.accepted:
		return tc
	case <-t.C:
	case <-s.base.Done():
	}
	if s.dropJoin(j) {
		return nil
	}
	return <-j.accepted // the target took the join just now
}

// serveAccept serves a target's connection: hand it to the waiting caller,
// then copy the target's bytes to the caller.
func (s *Server) serveAccept(c net.Conn, src netip.AddrPort, payload []byte) {
	tok, err := wire.ParseAccept(payload)
	if err != nil {
		s.refuse(c, src, RefusedBadRequest, wire.CodeBadRequest, "malformed accept")
		return
	}
	j := s.takeJoin(tok)
	if j == nil {
		s.refuse(c, src, RefusedUnknownToken, wire.CodeUnknownToken, "")
		return
	}
	j.accepted <- c
	if sess := <-j.start; sess != nil {
		sess.pipe(sess.caller, c)
	}
}

// addJoin checks that the target holds a reservation and that no session
// limit refuses the caller, then counts the session and makes it pending.
func (s *Server) addJoin(j *join) (*reservation, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.reservations[j.target]
	switch {
	case res == nil:
		return nil, RefusedNoReservation
	case s.sessions >= s.cfg.MaxSessions:
		return nil, LimitMaxSessions
	case s.byTarget[j.target] >= s.cfg.SessionsPerTarget:
		return nil, LimitSessionsPerTarget
	case s.bySource[j.src] >= s.cfg.SessionsPerSource:
		return nil, LimitSessionsPerSource
	}
	s.sessions++
	s.byTarget[j.target]++
	s.bySource[j.src]++
	s.pending[j.token] = j
	s.m.pending.Inc()
	return res, ""
}

// takeJoin removes and returns the pending join for tok, if any.
func (s *Server) takeJoin(tok wire.Token) *join {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.pending[tok]
	if j != nil {
		delete(s.pending, tok)
		s.m.pending.Dec()
	}
	return j
}

// dropJoin removes j from pending; false means a target took it first.
func (s *Server) dropJoin(j *join) bool {
	return s.takeJoin(j.token) == j
}

// endJoin uncounts a session, waiting or joined.
func (s *Server) endJoin(j *join) {
	s.dropJoin(j)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions--
	if s.byTarget[j.target]--; s.byTarget[j.target] <= 0 {
		delete(s.byTarget, j.target)
	}
	if s.bySource[j.src]--; s.bySource[j.src] <= 0 {
		delete(s.bySource, j.src)
	}
}

func targetField(k pubkey) zap.Field { return fingerprint(ed25519.PublicKey(k[:])) }
