package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
)

// eventFeed wakes readers when events commit. The channel is closed and
// replaced on each publish, which broadcasts to any number of waiters with
// no registration, so a waiter that goes away leaks nothing.
type eventFeed struct {
	mu     sync.Mutex // guards the fields below
	last   int64      // newest committed event ID
	ch     chan struct{}
	closed bool
}

func newEventFeed(last int64) *eventFeed {
	return &eventFeed{last: last, ch: make(chan struct{})}
}

func (f *eventFeed) publish(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || id <= f.last {
		return
	}
	f.last = id
	close(f.ch)
	f.ch = make(chan struct{})
}

func (f *eventFeed) state() (ch <-chan struct{}, last int64, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ch, f.last, f.closed
}

func (f *eventFeed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.ch)
	}
}

// EventNotify returns a channel that is closed when the next events commit
// (or the store closes). Take the channel before calling Events, then wait on
// it only if Events returned nothing new; that order cannot miss a wake-up.
func (s *Store) EventNotify() <-chan struct{} {
	ch, _, _ := s.feed.state()
	return ch
}

// LastEventID returns the ID of the newest committed event (0 if none), the
// cursor for a reader that wants only what happens from now on.
func (s *Store) LastEventID() int64 {
	_, last, _ := s.feed.state()
	return last
}

// WaitEvents blocks until an event with ID > after has committed, ctx ends
// (returning its error) or the store closes (ErrClosed).
func (s *Store) WaitEvents(ctx context.Context, after int64) error {
	for {
		ch, last, closed := s.feed.state()
		if last > after {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// AppendEvent appends e (for example a "presence" event) to the log and
// returns it with its ID and time set. e.ID is ignored; a zero e.At means
// now; e.Data, if set, must be valid JSON.
func (s *Store) AppendEvent(ctx context.Context, e Event) (Event, error) {
	if e.Type == "" {
		return Event{}, fmt.Errorf("append event: empty type: %w", ErrInvalid)
	}
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return Event{}, fmt.Errorf("append %s event: data is not JSON: %w", e.Type, ErrInvalid)
	}
	e.ID, e.Message = 0, nil
	e.Data = append(json.RawMessage(nil), e.Data...)
	err := s.write(ctx, func(w *wtx) error {
		return w.appendEvent(&e)
	})
	if err != nil {
		return Event{}, fmt.Errorf("append %s event: %w", e.Type, err)
	}
	return e, nil
}

// eventQuery reads events with the message they are about: the incoming one
// for "message" events, the outgoing one for "delivered" events.
const eventQuery = `SELECT e.id, e.at, e.type, e.peer, e.message_id, e.data,
		m.seq, m.id, m.peer, m.dir, m.body, m.sent_at, m.stored_at, m.state
	FROM events e
	LEFT JOIN messages m ON e.message_id IS NOT NULL AND m.peer = e.peer AND m.id = e.message_id
		AND m.dir = CASE e.type WHEN 'message' THEN 'in' WHEN 'delivered' THEN 'out' END
	WHERE e.id > ? ORDER BY e.id LIMIT ?`

// Events returns up to limit events with ID > after, ascending. Pass the ID
// of the last event seen to resume: the result continues exactly where the
// reader left off. If PruneEvents already removed events just after the
// cursor, Events returns ErrEventsPruned so the reader knows it missed some
// (after = 0 means "from the oldest kept" and never fails that way).
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("events after %d: limit %d: %w", after, limit, ErrInvalid)
	}
	if s.closed() {
		return nil, fmt.Errorf("events after %d: %w", after, ErrClosed)
	}
	evs, err := s.readEvents(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	// IDs have no gaps, so a first event right after the cursor proves that
	// nothing was pruned in between; only otherwise is the bound looked up.
	if after > 0 && (len(evs) == 0 || evs[0].ID != after+1) {
		pruned, err := s.prunedThrough(ctx)
		if err != nil {
			return nil, fmt.Errorf("events after %d: %w", after, err)
		}
		if after < pruned {
			return nil, fmt.Errorf("events after %d (pruned through %d): %w", after, pruned, ErrEventsPruned)
		}
	}
	return evs, nil
}

func (s *Store) readEvents(ctx context.Context, after int64, limit int) ([]Event, error) {
	rows, err := s.readQuery(ctx, eventQuery, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	return evs, rows.Err()
}

func scanEvent(rows *sql.Rows) (Event, error) {
	var (
		e         Event
		at        int64
		mid, data []byte
		m         nullMessage
	)
	if err := rows.Scan(&e.ID, &at, &e.Type, &e.Peer, &mid, &data,
		&m.seq, &m.id, &m.peer, &m.dir, &m.body, &m.sentAt, &m.storedAt, &m.state); err != nil {
		return Event{}, err
	}
	e.At = fromUnixNano(at)
	copy(e.MessageID[:], mid)
	if len(data) > 0 {
		e.Data = json.RawMessage(data)
	}
	e.Message = m.message()
	return e, nil
}

// nullMessage receives the columns of a LEFT JOINed message, all NULL when
// the event is about no stored message.
type nullMessage struct {
	seq              sql.NullInt64
	id, body         []byte
	peer, dir, state sql.NullString
	sentAt, storedAt sql.NullInt64
}

func (n *nullMessage) message() *Message {
	if !n.seq.Valid {
		return nil
	}
	m := &Message{Seq: n.seq.Int64, Peer: n.peer.String, Direction: Direction(n.dir.String),
		Body: n.body, SentAt: fromUnixNano(n.sentAt.Int64), StoredAt: fromUnixNano(n.storedAt.Int64),
		State: State(n.state.String)}
	copy(m.ID[:], n.id)
	if m.Body == nil {
		m.Body = []byte{}
	}
	return m
}

// prunedThrough returns the newest event ID that PruneEvents removed: one
// less than the oldest kept ID, as IDs have no gaps and pruning keeps at
// least the newest event.
func (s *Store) prunedThrough(ctx context.Context) (int64, error) {
	var n int64
	err := s.readRow(ctx, `SELECT COALESCE(min(id) - 1, 0) FROM events`).Scan(&n)
	return n, err
}

// lastEventID reads the newest event ID.
func lastEventID(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read last event id: %w", err)
	}
	return n, nil
}

// PruneEvents deletes all but the newest keep events, bounding the log.
// The newest event is always kept, even with keep 0: event IDs are assigned
// as the largest ID plus one, and keeping it is what stops IDs from starting
// again at 1 and confusing readers that hold a cursor. Messages and contacts
// are not affected.
func (s *Store) PruneEvents(ctx context.Context, keep int) error {
	if keep < 0 {
		return fmt.Errorf("prune events: keep %d: %w", keep, ErrInvalid)
	}
	keep = max(keep, 1)
	err := s.write(ctx, func(w *wtx) error {
		_, err := w.tx.ExecContext(w.ctx, `DELETE FROM events WHERE id <
			(SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)`, keep-1)
		return err
	})
	if err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	return nil
}
