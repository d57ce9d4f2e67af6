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
	var batch []wire.Msg // the messages read together
	var acks [][16]byte  // the IDs of the Ack frames read together
	// Deliver and Acked run on the call pool, one call at a time each,
	// while the reader goes on reading: what arrives during a call goes
	// in the next one (callChain).
	deliveries := newCallChain(s.m.calls, s.m.ctx, batchLimit, s.deliver, s.fail)
	receipts := newCallChain(s.m.calls, s.m.ctx, wire.MaxAckIDs, s.acked, func(error) {})
	defer func() {
		// Nothing may be in flight once the session is gone.
		deliveries.wait()
		receipts.wait()
	}()
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
			acks = append(acks, f.IDs...)
		case wire.Ping:
			s.queue(wire.Pong(f))
		case wire.Pong:
			// Any frame proves the peer alive; deadlineConn noted it.
			s.pong(f)
		case wire.Bye:
			// The peer sent everything before its Bye: store it and
			// queue the acks before the session closes.
			if len(acks) > 0 {
				receipts.add(s.ctx, acks)
			}
			if len(batch) > 0 {
				if err := deliveries.add(s.ctx, batch); err != nil {
					return err
				}
			}
			if err := deliveries.wait(); err != nil {
				return err
			}
			return &ByeError{Reason: f.Reason}
		case wire.Connect, wire.Sync:
			s.upgradeFrame(f)
		default:
			return fmt.Errorf("%w: unexpected %v frame", ErrProtocol, f.Type())
		}
		// What arrived together is handed over together: the messages as
		// one batch (one store transaction, one Ack), the
		// acknowledgements as one store call.
		more := r.FrameBuffered()
		if len(acks) > 0 && (!more || len(acks) >= wire.MaxAckIDs) {
			if err := receipts.add(s.ctx, acks); err != nil {
				return err
			}
			acks = acks[:0]
			if cap(acks) > 64 {
				acks = nil // a session that goes quiet keeps no large buffer
			}
		}
		if len(batch) > 0 && (!more || len(batch) >= batchLimit) {
			if err := deliveries.add(s.ctx, batch); err != nil {
				return err
			}
			clear(batch)
			batch = batch[:0]
			if cap(batch) > 64 {
				batch = nil // a session that goes quiet keeps no large buffer
			}
		}
	}
	return nil
}

// deliver stores a batch through the Handler and queues its Ack.
func (s *session) deliver(batch []wire.Msg) error {
	s.touch()
	if err := s.m.cfg.Handler.Deliver(s.ctx, s.peer, s.link.peerKey, batch); err != nil {
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

// fail closes the session after a delivery failed, telling the peer why
// if the Handler refused its messages.
func (s *session) fail(err error) {
	bye := ""
	var ref *RefusedError
	if errors.As(err, &ref) {
		bye = ref.Error()
	}
	s.close(err, bye)
}

// acked records the peer's acknowledgements. An error is only logged: the
// messages stay in the outbox, are resent later and acked again.
func (s *session) acked(ids [][16]byte) error {
	if err := s.m.cfg.Handler.Acked(s.ctx, s.peer, ids); err != nil {
		s.m.log.Warn("record ack", s.logPeer(), errField(err))
	}
	return nil
}
