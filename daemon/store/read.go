package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sync"
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

// readStmts caches the read pool's prepared statements by query text.
// modernc.org/sqlite prepares a statement for every query it is handed as
// text, and parsing and planning were half the cost of a short read (the
// event stream's Events after each commit, a session's Pending, a
// History page). database/sql keeps each Stmt prepared on every pool
// connection it has run on.
type readStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt // guarded by mu
}

// reader returns query prepared on the read pool.
func (s *Store) reader(ctx context.Context, query string) (*sql.Stmt, error) {
	s.rs.mu.Lock()
	defer s.rs.mu.Unlock()
	if st := s.rs.m[query]; st != nil {
		return st, nil
	}
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if s.rs.m == nil {
		s.rs.m = map[string]*sql.Stmt{}
	}
	s.rs.m[query] = st
	return st, nil
}

// closeReaders closes the cached statements (at Close).
func (s *Store) closeReaders() error {
	s.rs.mu.Lock()
	defer s.rs.mu.Unlock()
	var errs []error
	for q, st := range s.rs.m {
		errs = append(errs, st.Close())
		delete(s.rs.m, q)
	}
	return errors.Join(errs...)
}

// readQuery runs a prepared query on the read pool.
func (s *Store) readQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.reader(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// readRow is readQuery for one row.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.reader(ctx, query)
	if err != nil {
		return s.r.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// queryMessages runs a query over messageCols on the read pool.
func (s *Store) queryMessages(ctx context.Context, query string, args ...any) ([]Message, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	rows, err := s.readQuery(ctx, query, args...)
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
	row := s.readRow(ctx, `SELECT `+messageCols+` FROM messages
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
