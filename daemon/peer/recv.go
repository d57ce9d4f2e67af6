package peer

import (
	"errors"
	"fmt"

	"github.com/p2pchat/p2pchat/daemon/wire"
)

// receive is the session's reader. It returns the error that ended the
// stream; before returning it closes the session.
func (s *session) receive() error {
	err := s.receiveFrames()
	bye := ""
	var ref *RefusedError
	if errors.As(err, &ref) {
		bye = ref.Error()
	}
	s.close(err, bye)
	if s.ctx.Err() != nil {
		// Closing: read until the peer hangs up so it gets our Bye and
		// acks before the connection goes, and so no RST eats them.
		for err == nil {
			_, err = s.link.r.ReadFrame()
		}
	}
	return err
}

func (s *session) receiveFrames() error {
	r := s.link.r
	batch := make([]wire.Msg, 0, 8)
	for s.ctx.Err() == nil {
		f, err := r.ReadFrame()
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case wire.Msg:
			batch = append(batch, f)
		case wire.Ack:
			s.touch()
			if err := s.m.calls.do(s.m.ctx, func() error { return s.m.cfg.Handler.Acked(s.ctx, s.peer, f.IDs) }); err != nil {
				// The messages stay in the outbox and are resent later;
				// the peer will ack them again.
				s.m.log.Warn("record ack", s.logPeer(), errField(err))
			}
		case wire.Ping:
			s.queue(wire.Pong(f))
		case wire.Pong:
			// Any frame proves the peer alive; deadlineConn noted it.
			s.pong(f)
		case wire.Bye:
			return &ByeError{Reason: f.Reason}
		case wire.Connect, wire.Sync:
			s.upgradeFrame(f)
		default:
			return fmt.Errorf("%w: unexpected %v frame", ErrProtocol, f.Type())
		}
		// Deliver what arrived together as one batch: one store
		// transaction and one Ack for many messages.
		if len(batch) > 0 && (len(batch) >= batchLimit || !r.FrameBuffered()) {
			if err := s.deliver(batch); err != nil {
				return err
			}
			clear(batch)
			batch = batch[:0]
		}
	}
	return nil
}

func (s *session) deliver(batch []wire.Msg) error {
	s.touch()
	if err := s.m.calls.do(s.m.ctx, func() error { return s.m.cfg.Handler.Deliver(s.ctx, s.peer, s.link.peerKey, batch) }); err != nil {
		// No ack: the peer keeps the messages and resends them.
		return fmt.Errorf("deliver %d messages: %w", len(batch), err)
	}
	ids := make([][16]byte, len(batch))
	for i := range batch {
		ids[i] = batch[i].ID
	}
	s.queue(wire.Ack{IDs: ids})
	return nil
}
