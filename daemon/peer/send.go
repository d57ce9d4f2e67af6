package peer

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/wire"
)

// send is the session's writer loop: the outbox from a cursor, queued
// control frames and keepalives. The cursor starts at 0 on every
// connection, so whatever the peer has not acknowledged is resent after a
// reconnect, and within one connection nothing is sent twice.
func (s *session) send() {
	defer s.finish()
	cursor, more := int64(0), true
	tick := time.NewTicker(min(s.m.cfg.KeepAlive, s.m.cfg.IdleTimeout))
	defer tick.Stop()
	for s.ctx.Err() == nil {
		if err := s.writeCtrl(); err != nil {
			s.close(err, "")
			return
		}
		if more {
			var err error
			if more, err = s.sendPending(&cursor); err != nil {
				s.close(err, "")
				return
			}
		}
		if err := s.link.w.Flush(); err != nil {
			s.close(fmt.Errorf("write: %w", err), "")
			return
		}
		if more {
			continue
		}
		select {
		case <-s.ctx.Done():
		case <-s.notifyCh:
			more = true
		case <-s.ctrlCh:
		case <-tick.C:
			s.onTick()
		}
	}
}

// sendPending writes the next batch of the outbox and reports whether
// there may be more.
func (s *session) sendPending(cursor *int64) (more bool, err error) {
	h := s.m.cfg.Handler
	out, err := h.Pending(s.ctx, s.peer, *cursor, batchLimit)
	if err != nil {
		return false, fmt.Errorf("read outbox: %w", err)
	}
	if len(out) == 0 {
		return false, nil
	}
	ids := make([][16]byte, 0, len(out))
	for _, o := range out {
		*cursor = o.Seq
		if err := s.link.w.WriteFrame(o.Msg); err != nil {
			if errors.Is(err, wire.ErrBodyTooLarge) {
				// Callers check bodies when a message is submitted; one
				// that slipped through must not block the others.
				s.m.log.Error("outgoing message too large, not sent", s.logPeer(), zap.Int64("seq", o.Seq))
				continue
			}
			return false, fmt.Errorf("write: %w", err)
		}
		ids = append(ids, o.Msg.ID)
	}
	if err := s.link.w.Flush(); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	s.touch()
	if len(ids) > 0 {
		if err := h.Sent(s.ctx, s.peer, ids); err != nil {
			s.m.log.Warn("record sent messages", s.logPeer(), errField(err))
		}
	}
	return len(out) == batchLimit, nil
}

func (s *session) writeCtrl() error {
	for _, f := range s.takeCtrl() {
		if _, ok := f.(wire.Ack); ok {
			s.touch()
		}
		if err := s.link.w.WriteFrame(f); err != nil {
			return fmt.Errorf("write %v: %w", f.Type(), err)
		}
	}
	return nil
}

// onTick pings a quiet peer and closes a session that has been idle long
// enough with nothing left to send.
func (s *session) onTick() {
	cfg := &s.m.cfg
	// Half a period, not a whole one: ticks and reads are not aligned, and
	// the peer's answer must arrive well before the 3×KeepAlive limit.
	if s.link.dc.sinceRead() >= cfg.KeepAlive/2 {
		s.ping()
	}
	if s.idleFor() < cfg.IdleTimeout {
		return
	}
	out, err := cfg.Handler.Pending(s.ctx, s.peer, 0, 1)
	if err == nil && len(out) == 0 {
		s.close(errIdle, "idle")
	}
}

// finish runs when the sender stops: it flushes what is queued, tells the
// peer why, and half-closes so the peer sees EOF after our last frame.
func (s *session) finish() {
	s.close(errShutdown, "shutting down") // no-op unless the manager is stopping
	w := s.link.w
	for _, f := range s.takeCtrl() {
		w.WriteFrame(f)
	}
	if bye := s.byeReason(); bye != "" {
		w.WriteFrame(wire.Bye{Reason: bye})
	}
	w.Flush()
	closeWrite(s.link.raw)
}
