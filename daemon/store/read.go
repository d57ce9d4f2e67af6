package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

const messageCols = `seq, id, peer, dir, body, sent_at, stored_at, state`

type scanner interface{ Scan(dest ...any) error }

func scanMessage(sc scanner) (Message, error) {
	var (
		m                Message
		id               []byte
		dir, state       string
		sentAt, storedAt int64
	)
	if err := sc.Scan(&m.Seq, &id, &m.Peer, &dir, &m.Body, &sentAt, &storedAt, &state); err != nil {
		return Message{}, err
	}
	if len(id) != len(m.ID) {
		return Message{}, fmt.Errorf("message seq %d: id of %d bytes", m.Seq, len(id))
	}
	copy(m.ID[:], id)
	if m.Body == nil {
		m.Body = []byte{}
	}
	m.Direction, m.State = Direction(dir), State(state)
	m.SentAt, m.StoredAt = fromUnixNano(sentAt), fromUnixNano(storedAt)
	return m, nil
}

// queryMessages runs a query over messageCols on the read pool.
func (s *Store) queryMessages(ctx context.Context, query string, args ...any) ([]Message, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		s.showSent(&m)
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// showSent gives a queued message the state sent if MarkSent marked it
// and the mark is not written yet (see sentMarks).
func (s *Store) showSent(m *Message) {
	if m.State == Queued && m.Direction == Out && s.sent.has(m.Peer, m.ID) {
		m.State = Sent
	}
}

// History returns up to limit messages exchanged with peer, both directions,
// with Seq < beforeSeq (0 means the latest), in ascending Seq order: the
// newest page first, and to page back pass the first Seq of the page.
func (s *Store) History(ctx context.Context, peer string, limit int, beforeSeq int64) ([]Message, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("history of %q: limit %d: %w", peer, limit, ErrInvalid)
	}
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	msgs, err := s.queryMessages(ctx, `SELECT `+messageCols+` FROM (
		SELECT `+messageCols+` FROM messages WHERE peer = ? AND seq < ? ORDER BY seq DESC LIMIT ?
	) ORDER BY seq`, peer, beforeSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("history of %q: %w", peer, err)
	}
	return msgs, nil
}

// Message returns one message by peer, direction and ID, or ErrNotFound.
func (s *Store) Message(ctx context.Context, peer string, dir Direction, id [16]byte) (Message, error) {
	if s.closed() {
		return Message{}, fmt.Errorf("message %x from %q: %w", id, peer, ErrClosed)
	}
	row := s.r.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages
		WHERE peer = ? AND dir = ? AND id = ?`, peer, string(dir), id[:])
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("message %x with %q: %w", id, peer, err)
	}
	s.showSent(&m)
	return m, nil
}
