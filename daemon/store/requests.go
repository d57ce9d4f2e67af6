package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// This file is consent: what someone who is not a contact sends is a
// request, kept apart and bounded, until the user accepts, declines or
// blocks it. Blocked keys are refused whatever name they claim.

// ErrBlocked: the key is on the block list.
var ErrBlocked = errors.New("key is blocked")

// Event types of consent.
const (
	EventRequest = "request" // a stranger's messages were kept as a request; Data: {"action": "received"|"accepted"|"declined"|"dropped"|"blocked"}
)

// RequestLimits bounds what requests may hold. The oldest goes first: the
// oldest messages of a request, and whole requests whose last message is
// the oldest.
type RequestLimits struct {
	Senders  int // requests kept at once
	Messages int // messages kept per request
	Bytes    int // message bytes kept per request
}

func (l RequestLimits) check() error {
	if l.Senders < 1 || l.Messages < 1 || l.Bytes < 1 {
		return fmt.Errorf("request limits %+v: every limit must be at least 1: %w", l, ErrInvalid)
	}
	return nil
}

// Request is what a stranger sent, waiting for the user's answer.
type Request struct {
	Name      string
	PublicKey ed25519.PublicKey
	FirstAt   time.Time
	LastAt    time.Time
	Dropped   int       // messages dropped to stay within the limits
	Messages  []Message // in arrival order; Direction In, State Received, Seq local to requests
}

// Blocked is a key on the block list.
type Blocked struct {
	PublicKey ed25519.PublicKey
	Name      string // the name it was blocked under
	BlockedAt time.Time
}

// Arrival says where Deliver put a batch.
type Arrival struct {
	Request bool   // kept as a request, not in the history
	Fresh   []bool // per message: new (false: a resend of a stored ID)
}

// requestEvent is the Data of "request" events.
type requestEvent struct {
	Action string `json:"action"`
	Key    string `json:"public_key,omitempty"`
	Count  int    `json:"count,omitempty"`
}

// Deliver stores a batch of incoming messages from peer, who proved key,
// in one transaction: into the history if peer is a contact with that key,
// else into peer's request (within lim). A contact pinned to another key
// gets a *KeyMismatchError and a blocked key ErrBlocked; nothing is stored
// then. Deciding inside the transaction means a batch racing the user's
// accept lands on one side of it, never lost between them.
func (s *Store) Deliver(ctx context.Context, peer string, key ed25519.PublicKey, msgs []Message, lim RequestLimits) (Arrival, error) {
	if peer == "" || len(key) != ed25519.PublicKeySize {
		return Arrival{}, fmt.Errorf("deliver: need a peer name and a %d-byte key: %w", ed25519.PublicKeySize, ErrInvalid)
	}
	if err := lim.check(); err != nil {
		return Arrival{}, fmt.Errorf("deliver from %q: %w", peer, err)
	}
	for i := range msgs {
		if err := checkBody(msgs[i].Body); err != nil {
			return Arrival{}, fmt.Errorf("deliver from %q: message %d: %w", peer, i, err)
		}
	}
	// Through the committer, like Enqueue: batches from many sessions (and
	// this chatd's own sends and receipts) share one transaction and so
	// one sync. A refusal (a key mismatch, a blocked key) is decided
	// before anything is written and is this caller's alone: it does not
	// fail the transaction the others share.
	var (
		d       Arrival
		refusal error
	)
	err := s.writeShared(ctx, func(w *wtx) error {
		d, refusal = Arrival{}, nil
		pinned, err := w.contactKey(peer)
		switch {
		case err == nil && bytes.Equal(pinned, key):
			rows := make([]Message, len(msgs))
			for i, m := range msgs {
				rows[i] = Message{ID: m.ID, Peer: peer, Body: m.Body, SentAt: m.SentAt}
			}
			if d.Fresh, err = w.insertMessages(In, rows); err != nil {
				return err
			}
			if slices.Contains(d.Fresh, true) {
				return w.noteEvents()
			}
			return nil
		case err == nil:
			refusal = &KeyMismatchError{Name: peer, Pinned: pinned, Offered: bytes.Clone(key)}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if blocked, err := w.isBlocked(key); err != nil || blocked {
			if err == nil {
				refusal = ErrBlocked
			}
			return err
		}
		d.Request = true
		d.Fresh, err = w.addToRequest(peer, key, msgs, lim)
		return err
	}, nil)
	if err == nil {
		err = refusal
	}
	if err != nil {
		return Arrival{}, fmt.Errorf("deliver from %q: %w", peer, err)
	}
	return d, nil
}

func (w *wtx) contactKey(name string) (ed25519.PublicKey, error) {
	var key []byte
	if err := w.stmt(w.s.stmts.contactKey).QueryRowContext(w.ctx, name).Scan(&key); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("look up contact: %w", err)
	}
	return key, nil
}

func (w *wtx) isBlocked(key ed25519.PublicKey) (bool, error) {
	var one int
	err := w.stmt(w.s.stmts.isBlocked).QueryRowContext(w.ctx, []byte(key)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up block list: %w", err)
	}
	return true, nil
}

// addToRequest appends msgs to name's request, making it (or replacing one
// under another key: the tracker vouched for this one), then trims the
// request and the set of requests to lim.
func (w *wtx) addToRequest(name string, key ed25519.PublicKey, msgs []Message, lim RequestLimits) ([]bool, error) {
	var old []byte
	err := w.tx.QueryRowContext(w.ctx, `SELECT public_key FROM requests WHERE name = ?`, name).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := w.tx.ExecContext(w.ctx, `INSERT INTO requests (name, public_key, first_at, last_at) VALUES (?, ?, ?, ?)`,
			name, []byte(key), unixNano(w.now), unixNano(w.now)); err != nil {
			return nil, fmt.Errorf("insert request: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("look up request: %w", err)
	case !bytes.Equal(old, key):
		if err := w.deleteRequests(`name = ?`, name); err != nil {
			return nil, err
		}
		return w.addToRequest(name, key, msgs, lim)
	default:
		if _, err := w.tx.ExecContext(w.ctx, `UPDATE requests SET last_at = ? WHERE name = ?`, unixNano(w.now), name); err != nil {
			return nil, fmt.Errorf("update request: %w", err)
		}
	}
	fresh := make([]bool, len(msgs))
	// What the bounds would drop at once is not written at all: only the
	// newest messages of the batch that fit (at least one) are inserted,
	// so a stranger's large batch costs no more disk than the request may
	// hold. The rest count as dropped (and as fresh, so they are acked).
	first, count, size := len(msgs), 0, 0
	for first > 0 && (count == 0 || count < lim.Messages && size+len(msgs[first-1].Body) <= lim.Bytes) {
		first--
		count++
		size += len(msgs[first].Body)
	}
	if first > 0 {
		for i := range first {
			fresh[i] = true
		}
		if _, err := w.tx.ExecContext(w.ctx, `UPDATE requests SET dropped = dropped + ? WHERE name = ?`, first, name); err != nil {
			return nil, fmt.Errorf("update request: %w", err)
		}
	}
	n := first
	for i := first; i < len(msgs); i++ {
		m := msgs[i]
		res, err := w.tx.ExecContext(w.ctx, `INSERT INTO request_messages (name, id, body, sent_at, stored_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, id) DO NOTHING`,
			name, m.ID[:], notNull(m.Body), unixNano(m.SentAt), unixNano(w.now))
		if err != nil {
			return nil, fmt.Errorf("insert request message: %w", err)
		}
		if k, err := res.RowsAffected(); err == nil && k == 1 {
			fresh[i] = true
			n++
		}
	}
	if n == 0 {
		return fresh, nil
	}
	if err := w.trimRequest(name, lim); err != nil {
		return nil, err
	}
	if err := w.trimRequests(lim); err != nil {
		return nil, err
	}
	return fresh, w.appendEvent(&Event{Type: EventRequest, Peer: name,
		Data: mustJSON(requestEvent{Action: "received", Key: hex.EncodeToString(key), Count: n})})
}

// trimRequest drops name's oldest messages beyond lim.Messages or
// lim.Bytes (the newest message is always kept: one body is at most
// api.MaxBodyBytes).
func (w *wtx) trimRequest(name string, lim RequestLimits) error {
	rows, err := w.tx.QueryContext(w.ctx, `SELECT seq, length(body) FROM request_messages WHERE name = ? ORDER BY seq DESC`, name)
	if err != nil {
		return fmt.Errorf("trim request: %w", err)
	}
	var (
		count, size int
		cut         int64 // drop seqs <= cut
	)
	for rows.Next() {
		var seq int64
		var l int
		if err := rows.Scan(&seq, &l); err != nil {
			rows.Close()
			return fmt.Errorf("trim request: %w", err)
		}
		count++
		size += l
		if count > 1 && (count > lim.Messages || size > lim.Bytes) {
			cut = seq
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("trim request: %w", err)
	}
	if cut == 0 {
		return nil
	}
	res, err := w.tx.ExecContext(w.ctx, `DELETE FROM request_messages WHERE name = ? AND seq <= ?`, name, cut)
	if err != nil {
		return fmt.Errorf("trim request: %w", err)
	}
	n, _ := res.RowsAffected()
	_, err = w.tx.ExecContext(w.ctx, `UPDATE requests SET dropped = dropped + ? WHERE name = ?`, n, name)
	if err != nil {
		return fmt.Errorf("trim request: %w", err)
	}
	return nil
}

// trimRequests drops whole requests, least recently active first, beyond
// lim.Senders.
func (w *wtx) trimRequests(lim RequestLimits) error {
	var n int
	if err := w.tx.QueryRowContext(w.ctx, `SELECT count(*) FROM requests`).Scan(&n); err != nil {
		return fmt.Errorf("count requests: %w", err)
	}
	if n <= lim.Senders {
		return nil
	}
	rows, err := w.tx.QueryContext(w.ctx, `SELECT name FROM requests ORDER BY last_at, name LIMIT ?`, n-lim.Senders)
	if err != nil {
		return fmt.Errorf("drop old requests: %w", err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("drop old requests: %w", err)
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("drop old requests: %w", err)
	}
	for _, name := range names {
		if err := w.deleteRequests(`name = ?`, name); err != nil {
			return err
		}
		if err := w.appendEvent(&Event{Type: EventRequest, Peer: name, Data: mustJSON(requestEvent{Action: "dropped"})}); err != nil {
			return err
		}
	}
	return nil
}

// deleteRequests deletes the requests matching where (a condition on the
// requests table with one argument) and their messages.
func (w *wtx) deleteRequests(where string, arg any) error {
	if _, err := w.tx.ExecContext(w.ctx, `DELETE FROM request_messages WHERE name IN (SELECT name FROM requests WHERE `+where+`)`, arg); err != nil {
		return fmt.Errorf("delete request messages: %w", err)
	}
	if _, err := w.tx.ExecContext(w.ctx, `DELETE FROM requests WHERE `+where, arg); err != nil {
		return fmt.Errorf("delete requests: %w", err)
	}
	return nil
}

// moveRequest moves name's request into the history, if it was made under
// key, and deletes it; it reports how many messages moved. The messages
// keep their arrival order and get "message" events, so an attached view
// shows them now.
func (w *wtx) moveRequest(name string, key ed25519.PublicKey) (int, error) {
	var rkey []byte
	err := w.tx.QueryRowContext(w.ctx, `SELECT public_key FROM requests WHERE name = ?`, name).Scan(&rkey)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up request: %w", err)
	}
	if !bytes.Equal(rkey, key) {
		// Made under a key that is not the one being pinned: not theirs.
		return 0, w.deleteRequests(`name = ?`, name)
	}
	msgs, err := w.requestMessages(name)
	if err != nil {
		return 0, err
	}
	fresh, err := w.insertMessages(In, msgs)
	if err != nil {
		return 0, err
	}
	if slices.Contains(fresh, true) {
		if err := w.noteEvents(); err != nil {
			return 0, err
		}
	}
	return len(msgs), w.deleteRequests(`name = ?`, name)
}

func (w *wtx) requestMessages(name string) ([]Message, error) {
	rows, err := w.tx.QueryContext(w.ctx, `SELECT seq, id, body, sent_at, stored_at FROM request_messages WHERE name = ? ORDER BY seq`, name)
	if err != nil {
		return nil, fmt.Errorf("read request messages: %w", err)
	}
	defer rows.Close()
	return scanRequestMessages(rows, name)
}

func scanRequestMessages(rows *sql.Rows, name string) ([]Message, error) {
	var ms []Message
	for rows.Next() {
		var (
			m            Message
			id           []byte
			sent, stored int64
		)
		if err := rows.Scan(&m.Seq, &id, &m.Body, &sent, &stored); err != nil {
			return nil, fmt.Errorf("read request messages: %w", err)
		}
		copy(m.ID[:], id)
		m.Peer, m.Direction, m.State = name, In, Received
		m.SentAt, m.StoredAt = fromUnixNano(sent), fromUnixNano(stored)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read request messages: %w", err)
	}
	return ms, nil
}

// Requests returns the pending requests, most recently active first, each
// with its messages.
func (s *Store) Requests(ctx context.Context) ([]Request, error) {
	if s.closed() {
		return nil, fmt.Errorf("requests: %w", ErrClosed)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name, public_key, first_at, last_at, dropped FROM requests ORDER BY last_at DESC, name`)
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	var rs []Request
	for rows.Next() {
		var (
			r           Request
			key         []byte
			first, last int64
		)
		if err := rows.Scan(&r.Name, &key, &first, &last, &r.Dropped); err != nil {
			rows.Close()
			return nil, fmt.Errorf("requests: %w", err)
		}
		r.PublicKey, r.FirstAt, r.LastAt = key, fromUnixNano(first), fromUnixNano(last)
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	for i := range rs {
		mrows, err := tx.QueryContext(ctx, `SELECT seq, id, body, sent_at, stored_at FROM request_messages WHERE name = ? ORDER BY seq`, rs[i].Name)
		if err != nil {
			return nil, fmt.Errorf("requests: %w", err)
		}
		rs[i].Messages, err = scanRequestMessages(mrows, rs[i].Name)
		mrows.Close()
		if err != nil {
			return nil, fmt.Errorf("requests: %w", err)
		}
	}
	return rs, nil
}

// RequestCount returns how many requests wait for the user.
func (s *Store) RequestCount(ctx context.Context) (int, error) {
	if s.closed() {
		return 0, fmt.Errorf("count requests: %w", ErrClosed)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM requests`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count requests: %w", err)
	}
	return n, nil
}

// AcceptRequest makes name's request a contact: its key is pinned and its
// messages move into the history, in order. ErrNotFound if there is none;
// a *KeyMismatchError if name is already pinned to another key (nothing
// changes then).
func (s *Store) AcceptRequest(ctx context.Context, name string) (Contact, error) {
	var c Contact
	err := s.write(ctx, func(w *wtx) error {
		var key []byte
		err := w.tx.QueryRowContext(w.ctx, `SELECT public_key FROM requests WHERE name = ?`, name).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("look up request: %w", err)
		}
		c, _, err = w.pin(name, key)
		if err != nil {
			return err
		}
		n, err := w.moveRequest(name, key)
		if err != nil {
			return err
		}
		return w.appendEvent(&Event{Type: EventRequest, Peer: name, Data: mustJSON(requestEvent{Action: "accepted", Count: n})})
	})
	if err != nil {
		return Contact{}, fmt.Errorf("accept request from %q: %w", name, err)
	}
	return c, nil
}

// DeclineRequest deletes name's request and its messages. The sender is
// not told; what it sends next is a new request.
func (s *Store) DeclineRequest(ctx context.Context, name string) error {
	err := s.write(ctx, func(w *wtx) error {
		var one int
		err := w.tx.QueryRowContext(w.ctx, `SELECT 1 FROM requests WHERE name = ?`, name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("look up request: %w", err)
		}
		if err := w.deleteRequests(`name = ?`, name); err != nil {
			return err
		}
		return w.appendEvent(&Event{Type: EventRequest, Peer: name, Data: mustJSON(requestEvent{Action: "declined"})})
	})
	if err != nil {
		return fmt.Errorf("decline request from %q: %w", name, err)
	}
	return nil
}

// RequestKey returns the key of name's request, or ErrNotFound.
func (s *Store) RequestKey(ctx context.Context, name string) (ed25519.PublicKey, error) {
	var key []byte
	err := s.r.QueryRowContext(ctx, `SELECT public_key FROM requests WHERE name = ?`, name).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("request key of %q: %w", name, err)
	}
	return key, nil
}

// Block puts key on the block list under name: every request made with
// the key is deleted and every contact pinned to it removed (history
// stays); it returns the names of those contacts. Blocking a blocked key
// again only renames it.
func (s *Store) Block(ctx context.Context, name string, key ed25519.PublicKey) ([]string, error) {
	if name == "" || len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("block %q: need a name and a %d-byte key: %w", name, ed25519.PublicKeySize, ErrInvalid)
	}
	var removed []string
	err := s.write(ctx, func(w *wtx) error {
		removed = nil
		if _, err := w.tx.ExecContext(w.ctx, `INSERT INTO blocked (public_key, name, blocked_at) VALUES (?, ?, ?)
			ON CONFLICT (public_key) DO UPDATE SET name = excluded.name`, []byte(key), name, unixNano(w.now)); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if err := w.deleteRequests(`public_key = ?`, []byte(key)); err != nil {
			return err
		}
		rows, err := w.tx.QueryContext(w.ctx, `DELETE FROM contacts WHERE public_key = ? RETURNING name`, []byte(key))
		if err != nil {
			return fmt.Errorf("remove contacts: %w", err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return fmt.Errorf("remove contacts: %w", err)
			}
			removed = append(removed, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("remove contacts: %w", err)
		}
		for _, n := range removed {
			if err := w.appendEvent(&Event{Type: EventContact, Peer: n, Data: mustJSON(contactEvent{Action: "removed"})}); err != nil {
				return err
			}
		}
		return w.appendEvent(&Event{Type: EventRequest, Peer: name,
			Data: mustJSON(requestEvent{Action: "blocked", Key: hex.EncodeToString(key)})})
	})
	if err != nil {
		return nil, fmt.Errorf("block %q: %w", name, err)
	}
	return removed, nil
}

// Unblock takes key off the block list; ErrNotFound if it is not on it.
func (s *Store) Unblock(ctx context.Context, key ed25519.PublicKey) error {
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.tx.ExecContext(w.ctx, `DELETE FROM blocked WHERE public_key = ?`, []byte(key))
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return oneOrMore(res)
	})
	if err != nil {
		return fmt.Errorf("unblock %x: %w", []byte(key), err)
	}
	return nil
}

// BlockList returns the blocked keys, in the order they were blocked.
func (s *Store) BlockList(ctx context.Context) ([]Blocked, error) {
	if s.closed() {
		return nil, fmt.Errorf("block list: %w", ErrClosed)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT public_key, name, blocked_at FROM blocked ORDER BY blocked_at, name`)
	if err != nil {
		return nil, fmt.Errorf("block list: %w", err)
	}
	defer rows.Close()
	var bs []Blocked
	for rows.Next() {
		var (
			b   Blocked
			key []byte
			at  int64
		)
		if err := rows.Scan(&key, &b.Name, &at); err != nil {
			return nil, fmt.Errorf("block list: %w", err)
		}
		b.PublicKey, b.BlockedAt = key, fromUnixNano(at)
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("block list: %w", err)
	}
	return bs, nil
}

// oneOrMore is ErrNotFound when a statement changed no row.
func oneOrMore(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return err
}
