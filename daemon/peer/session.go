package peer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pchat/p2pchat/daemon/wire"
)

// A session is one authorised connection to one peer. It has exactly two
// goroutines, both started by run: the receiver (reads frames, delivers
// messages, queues acks) and the sender (the only writer: outbox,
// queued control frames, keepalives). The receiver makes its Handler
// calls on the manager's call workers (callPool), one Deliver and one
// Acked at a time, and goes on reading meanwhile: what arrives during a
// call is handed over in the next (callChain), so a slow, synced commit
// makes the next batch larger instead of stalling the stream. It waits
// for both chains before it returns. It holds a read buffer only while
// frames arrive (frameReader), so an idle session stays small.
//
// Its life:
//
//	up ──close(cause, bye)──▶ closing ──both goroutines returned──▶ done
//	                          sender: flush queued acks, send Bye, half-close
//	                          receiver: drain until the peer hangs up, or
//	                          closeLinger passes and the conn is shut
//
// close may be called from anywhere, any number of times; the first cause
// wins. Cancelling the manager's context closes every session.
type session struct {
	m     *Manager
	peer  string
	link  *link
	since time.Time
	// standing is what Authorize said of the peer; set before run.
	standing Standing
	ctx      context.Context
	cancel   context.CancelCauseFunc

	notifyCh chan struct{} // cap 1: the outbox has new messages
	ctrlCh   chan struct{} // cap 1: ctrl has frames to send

	mu      sync.Mutex
	ctrl    []wire.Frame // guarded by mu: acks, pongs and pings waiting for the sender
	closing bool         // guarded by mu
	cause   error        // guarded by mu: why the session closed
	bye     string       // guarded by mu: reason to tell the peer, "" to just hang up

	// lastActivity is when a Msg or Ack last went either way (Unix
	// nanoseconds); keepalives do not count, so idle sessions close.
	lastActivity atomic.Int64

	path      Path
	upgradeCh chan wire.Frame // cap 4: Connect and Sync for the upgrader
	pingSeq   atomic.Uint64   // nonce of the newest ping queued
	pingAt    atomic.Int64    // when it was queued (Unix nanoseconds)
	rtt       atomic.Int64    // the last measured round trip, 0 before the first
}

func newSession(m *Manager, l *link, path Path) *session {
	s := &session{
		m: m, peer: l.hello.Name, link: l, since: time.Now(), path: path,
		upgradeCh: make(chan wire.Frame, 4),
		notifyCh:  make(chan struct{}, 1),
		ctrlCh:    make(chan struct{}, 1),
	}
	s.ctx, s.cancel = context.WithCancelCause(m.ctx)
	s.touch()
	return s
}

// ping queues a Ping whose Pong measures the round trip.
func (s *session) ping() {
	n := s.pingSeq.Add(1)
	s.pingAt.Store(time.Now().UnixNano())
	s.queue(wire.Ping{Nonce: n})
}

// pong records the round trip if p answers the newest ping.
func (s *session) pong(p wire.Pong) {
	if p.Nonce == s.pingSeq.Load() {
		s.rtt.Store(time.Now().UnixNano() - s.pingAt.Load())
	}
}

func (s *session) touch() { s.lastActivity.Store(time.Now().UnixNano()) }

func (s *session) idleFor() time.Duration {
	return time.Duration(time.Now().UnixNano() - s.lastActivity.Load())
}

// notify wakes the sender to look at the outbox.
func (s *session) notify() {
	select {
	case s.notifyCh <- struct{}{}:
	default:
	}
}

// queue hands a control frame to the sender. Consecutive acks merge into
// one frame. A peer that makes us queue more than maxCtrlQueue frames
// without reading them is cut off.
func (s *session) queue(f wire.Frame) {
	s.mu.Lock()
	if ack, ok := f.(wire.Ack); ok && len(s.ctrl) > 0 {
		if last, ok := s.ctrl[len(s.ctrl)-1].(wire.Ack); ok && len(last.IDs)+len(ack.IDs) <= wire.MaxAckIDs {
			s.ctrl[len(s.ctrl)-1] = wire.Ack{IDs: append(last.IDs, ack.IDs...)}
			s.mu.Unlock()
			s.wakeSender()
			return
		}
	}
	s.ctrl = append(s.ctrl, f)
	over := len(s.ctrl) > maxCtrlQueue
	s.mu.Unlock()
	if over {
		s.close(errBackpressure, "")
		return
	}
	s.wakeSender()
}

func (s *session) wakeSender() {
	select {
	case s.ctrlCh <- struct{}{}:
	default:
	}
}

// takeCtrl removes and returns the queued control frames.
func (s *session) takeCtrl() []wire.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.ctrl
	s.ctrl = nil
	return q
}

// close starts closing the session. bye, if not empty, is sent to the
// peer as the reason. Within closeLinger the connection is shut no matter
// what the peer does.
func (s *session) close(cause error, bye string) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	s.cause = cause
	s.bye = bye
	s.mu.Unlock()
	s.cancel(cause)
	// A sender blocked on a peer that reads nothing, or a receiver waiting
	// for a peer that never hangs up, must still end.
	s.link.dc.writeTimeout.Store(int64(closeLinger))
	s.link.raw.SetWriteDeadline(time.Now().Add(closeLinger))
	time.AfterFunc(closeLinger, func() { s.link.raw.Close() })
}

func (s *session) byeReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bye
}

func (s *session) closeCause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}

// run owns the session's goroutines and returns when both have ended and
// the connection is closed.
func (s *session) run() {
	dc := s.link.dc
	dc.lastRead.Store(time.Now().UnixNano())
	dc.readTimeout.Store(int64(deadMultiplier * s.m.cfg.KeepAlive))
	dc.writeTimeout.Store(int64(deadMultiplier * s.m.cfg.KeepAlive))
	recvDone := make(chan error, 1)
	go func() { recvDone <- s.receive() }()
	s.ping() // the first round trip, for the path shown to the user
	s.startUpgrader()
	s.send()
	err := <-recvDone
	s.link.raw.Close()
	s.m.unregister(s)
	s.m.logEnd(s, err)
}
