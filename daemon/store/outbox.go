package store

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/ctl/api"
)

func checkOutgoing(peer string, body []byte) error {
	if peer == "" {
		return fmt.Errorf("empty peer name: %w", ErrInvalid)
	}
	return checkBody(body)
}

func checkBody(body []byte) error {
	if len(body) > api.MaxBodyBytes {
		return fmt.Errorf("body of %d bytes exceeds %d: %w", len(body), api.MaxBodyBytes, ErrInvalid)
	}
	if !utf8.Valid(body) {
		return fmt.Errorf("body is not UTF-8: %w", ErrInvalid)
	}
	return nil
}

// EnqueueBatch stores several outgoing messages to one peer in a single
// transaction: all are stored, in order, or none.
func (s *Store) EnqueueBatch(ctx context.Context, peer string, bodies [][]byte, sentAt time.Time) ([]Message, error) {
	for i, b := range bodies {
		if err := checkOutgoing(peer, b); err != nil {
			return nil, fmt.Errorf("enqueue batch for %q: message %d: %w", peer, i, err)
		}
	}
	if len(bodies) == 0 {
		return nil, nil
	}
	msgs := make([]Message, len(bodies))
	for i, b := range bodies {
		msgs[i] = Message{ID: newMessageID(), Peer: peer, Body: b, SentAt: sentAt}
	}
	// Through the committer, like Enqueue, so that the outbox tail sees
	// every outgoing message in Seq order.
	err := s.writeShared(ctx, func(w *wtx) error {
		_, err := w.insertMessages(Out, msgs)
		return err
	}, func() { s.tail.added(msgs) })
	if err != nil {
		return nil, fmt.Errorf("enqueue batch for %q: %w", peer, err)
	}
	return msgs, nil
}

// Pending returns up to limit outgoing messages to peer that are not yet
// delivered (queued or sent) with Seq > afterSeq, in ascending Seq order. A
// session that resends after a reconnect starts from afterSeq 0; one that
// streams new work passes the last Seq it has seen.
func (s *Store) Pending(ctx context.Context, peer string, afterSeq int64, limit int) ([]Message, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending for %q: limit %d: %w", peer, limit, ErrInvalid)
	}
	if s.closed() {
		return nil, fmt.Errorf("pending for %q: %w", peer, ErrClosed)
	}
	if msgs, ok := s.tail.pending(peer, afterSeq, limit); ok {
		return msgs, nil
	}
	msgs, err := s.queryMessages(ctx, `SELECT `+messageCols+` FROM messages
		WHERE peer = ? AND dir = 'out' AND delivered_at = 0 AND seq > ?
		ORDER BY seq LIMIT ?`, peer, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("pending for %q: %w", peer, err)
	}
	return msgs, nil
}

// PendingPeers lists, in name order, the peers that have outgoing messages
// not yet delivered, so that chatd can reconnect to them at start-up.
func (s *Store) PendingPeers(ctx context.Context) ([]string, error) {
	if s.closed() {
		return nil, fmt.Errorf("pending peers: %w", ErrClosed)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT peer FROM messages
		WHERE dir = 'out' AND delivered_at = 0 ORDER BY peer`)
	if err != nil {
		return nil, fmt.Errorf("pending peers: %w", err)
	}
	defer rows.Close()
	var peers []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("pending peers: %w", err)
		}
		peers = append(peers, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending peers: %w", err)
	}
	return peers, nil
}

// MarkSent moves the given outgoing messages from queued to sent.
// Messages already sent or delivered, and unknown IDs, are left alone: the
// state never moves backwards. It appends no events. The mark is held in
// memory and written only if the acknowledgement is late (see sentMarks):
// reads show it at once, and it needs no sync, since a lost mark only
// means a message that is resent anyway shows as queued.
func (s *Store) MarkSent(ctx context.Context, peer string, ids [][16]byte) error {
	if len(ids) == 0 {
		return nil
	}
	if s.closed() {
		return fmt.Errorf("mark sent for %q: %w", peer, ErrClosed)
	}
	s.sent.add(peer, ids, s.now().UnixNano())
	s.tail.marked(peer, ids, Sent)
	if err := s.writeSentMarks(ctx, false); err != nil {
		return fmt.Errorf("mark sent for %q: %w", peer, err)
	}
	return nil
}

// MarkDelivered records the peer's acknowledgement of the given outgoing
// messages in one transaction, appending one "delivered" event per message
// that was not delivered before. Unknown and already delivered IDs are
// ignored, so a repeated acknowledgement changes nothing and is not evented
// twice. It returns how many messages were newly delivered. Messages the
// outbox tail holds are found by Seq (the table's own key); the others by
// ID, through the (peer, dir, id) index.
func (s *Store) MarkDelivered(ctx context.Context, peer string, ids [][16]byte) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := s.writeShared(ctx, func(w *wtx) error {
		// The messages_delivered_event trigger appends the events.
		seqs, rest := s.tail.seqsOf(peer, ids)
		at := unixNano(w.now)
		var err error
		if n, err = w.execBySeqs(s.stmts.markDeliveredSeq, []any{at, peer}, seqs); err != nil {
			return err
		}
		if len(rest) > 0 {
			m, err := w.execByIDs(s.stmts.markDelivered, []any{at, peer}, rest)
			if err != nil {
				return err
			}
			n += m
		}
		if n == 0 {
			return nil
		}
		return w.noteEvents()
	}, func() {
		s.tail.marked(peer, ids, Delivered)
		s.sent.drop(peer, ids)
	})
	if err != nil {
		return 0, fmt.Errorf("mark delivered for %q: %w", peer, err)
	}
	return int(n), nil
}
