package store

import (
	"context"
	"fmt"
	"slices"
)

// Receive stores a batch of incoming messages from peer in one transaction
// and reports, per message, whether it was new. A message whose (peer, ID) is
// already stored is a duplicate (a retry after a lost acknowledgement): it is
// neither stored nor evented again. Each new message gets state received and
// one "message" event. Only ID, Body and SentAt of each input are used.
//
// The caller acknowledges the batch to the peer only after Receive returned
// nil; on error nothing of the batch was stored and the peer will resend.
func (s *Store) Receive(ctx context.Context, peer string, msgs []Message) (fresh []bool, err error) {
	if peer == "" {
		return nil, fmt.Errorf("receive: empty peer name: %w", ErrInvalid)
	}
	for i := range msgs {
		if err := checkBody(msgs[i].Body); err != nil {
			return nil, fmt.Errorf("receive from %q: message %d: %w", peer, i, err)
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	rows := make([]Message, len(msgs))
	for i, m := range msgs {
		rows[i] = Message{ID: m.ID, Peer: peer, Body: m.Body, SentAt: m.SentAt}
	}
	err = s.writeShared(ctx, func(w *wtx) error {
		// The messages_received_event trigger appends one event per
		// inserted row.
		var err error
		if fresh, err = w.insertMessages(In, rows); err != nil {
			return err
		}
		if slices.Contains(fresh, true) {
			return w.noteEvents()
		}
		return nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("receive from %q: %w", peer, err)
	}
	return fresh, nil
}
