package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const contactCols = `name, public_key, verified, added_at, last_seen`

func scanContact(sc scanner) (Contact, error) {
	var (
		c               Contact
		key             []byte
		addedAt, seenAt int64
	)
	if err := sc.Scan(&c.Name, &key, &c.Verified, &addedAt, &seenAt); err != nil {
		return Contact{}, err
	}
	c.PublicKey = ed25519.PublicKey(key)
	c.AddedAt, c.LastSeen = fromUnixNano(addedAt), fromUnixNano(seenAt)
	return c, nil
}

// contactEvent is the Data of "contact" events.
type contactEvent struct {
	Action   string `json:"action"` // pinned, verified, unverified, removed
	Key      string `json:"public_key,omitempty"`
	Verified *bool  `json:"verified,omitempty"`
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed struct types of this package are marshalled
	}
	return b
}

// PinContact pins pub as name's key on first use (trust on first use) and
// appends a "contact" event. If name is already pinned to the same key it
// returns the contact with created false. If it is pinned to a different key
// it changes nothing and returns the pinned contact with a *KeyMismatchError
// (errors.Is ErrKeyMismatch). Telling the user is the caller's job: it knows
// where the key came from and how to show fingerprints, and can record a
// "key_mismatch" event with AppendEvent, limited so that an impostor retrying
// cannot flood the log. To accept a new key deliberately, RemoveContact and
// pin again. A new pin accepts name's request made under the same key (its
// messages move into the history) and deletes one made under another.
func (s *Store) PinContact(ctx context.Context, name string, pub ed25519.PublicKey) (c Contact, created bool, err error) {
	if err := checkPin(name, pub); err != nil {
		return Contact{}, false, err
	}
	var mismatch *KeyMismatchError
	err = s.write(ctx, func(w *wtx) error {
		mismatch = nil
		var err error
		c, created, err = w.pinAccepting(name, pub)
		if errors.As(err, &mismatch) {
			return nil // nothing written; reported after the transaction
		}
		return err
	})
	if err != nil {
		return Contact{}, false, fmt.Errorf("pin contact %q: %w", name, err)
	}
	if mismatch != nil {
		return c, false, mismatch
	}
	return c, created, nil
}

// EnqueueFirst is PinContact and then Enqueue of body for name, in one
// transaction: a first message to a new contact costs one synced commit,
// not two, and shares it with concurrent Enqueues. On a key mismatch
// (errors.Is ErrKeyMismatch, the pinned contact returned) nothing is
// stored.
func (s *Store) EnqueueFirst(ctx context.Context, name string, pub ed25519.PublicKey, body []byte, sentAt time.Time) (c Contact, created bool, m Message, err error) {
	if err := checkPin(name, pub); err != nil {
		return Contact{}, false, Message{}, err
	}
	if err := checkOutgoing(name, body); err != nil {
		return Contact{}, false, Message{}, fmt.Errorf("enqueue for %q: %w", name, err)
	}
	r, err := s.gc.Do(ctx, enqueueReq{peer: name, body: body, sentAt: sentAt, op: func(w *wtx) error {
		var err error
		c, created, err = w.pinAccepting(name, pub)
		return err // a mismatch rolls the message back with it
	}})
	if mismatch := (*KeyMismatchError)(nil); errors.As(err, &mismatch) {
		return c, false, Message{}, mismatch // c: the pinned contact, from the op's last run
	}
	if err != nil {
		return Contact{}, false, Message{}, fmt.Errorf("enqueue first message for %q: %w", name, err)
	}
	return c, created, r.msg, nil
}

// checkPin refuses what cannot be pinned: no name, or a key that is not
// an Ed25519 public key.
func checkPin(name string, pub ed25519.PublicKey) error {
	if name == "" || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("pin contact %q: need a name and a %d-byte key: %w", name, ed25519.PublicKeySize, ErrInvalid)
	}
	return nil
}

// pinAccepting is pin; a new pin also accepts what name sent as a request
// under the same key (the user's own add or send accepts it).
func (w *wtx) pinAccepting(name string, pub ed25519.PublicKey) (Contact, bool, error) {
	c, created, err := w.pin(name, pub)
	if err != nil || !created {
		return c, created, err
	}
	_, err = w.moveRequest(name, pub)
	return c, created, err
}

// pin is PinContact inside a transaction, without the request: a key other
// than the pinned one is a *KeyMismatchError with the pinned contact.
func (w *wtx) pin(name string, pub ed25519.PublicKey) (Contact, bool, error) {
	row := w.tx.QueryRowContext(w.ctx, `SELECT `+contactCols+` FROM contacts WHERE name = ?`, name)
	switch old, err := scanContact(row); {
	case err == nil && bytes.Equal(old.PublicKey, pub):
		return old, false, nil
	case err == nil:
		return old, false, &KeyMismatchError{Name: name, Pinned: old.PublicKey, Offered: bytes.Clone(pub)}
	case !errors.Is(err, sql.ErrNoRows):
		return Contact{}, false, fmt.Errorf("look up: %w", err)
	}
	c := Contact{Name: name, PublicKey: bytes.Clone(pub), AddedAt: w.now}
	if _, err := w.tx.ExecContext(w.ctx, `INSERT INTO contacts (name, public_key, added_at) VALUES (?, ?, ?)`,
		name, []byte(pub), unixNano(w.now)); err != nil {
		return Contact{}, false, fmt.Errorf("insert: %w", err)
	}
	return c, true, w.appendEvent(&Event{Type: EventContact, Peer: name,
		Data: mustJSON(contactEvent{Action: "pinned", Key: hex.EncodeToString(pub)})})
}

// Contact returns the contact called name, or ErrNotFound.
func (s *Store) Contact(ctx context.Context, name string) (Contact, error) {
	if s.closed() {
		return Contact{}, fmt.Errorf("contact %q: %w", name, ErrClosed)
	}
	c, err := scanContact(s.readRow(ctx, `SELECT `+contactCols+` FROM contacts WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Contact{}, fmt.Errorf("contact %q: %w", name, err)
	}
	return c, nil
}

// Contacts returns all contacts in name order.
func (s *Store) Contacts(ctx context.Context) ([]Contact, error) {
	if s.closed() {
		return nil, fmt.Errorf("contacts: %w", ErrClosed)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+contactCols+` FROM contacts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	defer rows.Close()
	var cs []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("contacts: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	return cs, nil
}

// SetVerified records whether the user compared name's fingerprint out of
// band, appending a "contact" event when the flag changes.
func (s *Store) SetVerified(ctx context.Context, name string, verified bool) error {
	err := s.write(ctx, func(w *wtx) error {
		var old bool
		err := w.tx.QueryRowContext(w.ctx, `SELECT verified FROM contacts WHERE name = ?`, name).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || old == verified {
			return err
		}
		if _, err := w.tx.ExecContext(w.ctx, `UPDATE contacts SET verified = ? WHERE name = ?`, verified, name); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		action := map[bool]string{true: "verified", false: "unverified"}[verified]
		return w.appendEvent(&Event{Type: EventContact, Peer: name,
			Data: mustJSON(contactEvent{Action: action, Verified: &verified})})
	})
	if err != nil {
		return fmt.Errorf("set verified for %q: %w", name, err)
	}
	return nil
}

// RemoveContact removes name's pin (and verified flag) and appends a
// "contact" event. The message history and outbox are kept.
func (s *Store) RemoveContact(ctx context.Context, name string) error {
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.tx.ExecContext(w.ctx, `DELETE FROM contacts WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if err := oneOrMore(res); err != nil {
			return err
		}
		return w.appendEvent(&Event{Type: EventContact, Peer: name,
			Data: mustJSON(contactEvent{Action: "removed"})})
	})
	if err != nil {
		return fmt.Errorf("remove contact %q: %w", name, err)
	}
	return nil
}

// TouchContact records that name was seen at `at`. An older time than the one
// stored is ignored, so out-of-order reports cannot move LastSeen backwards.
func (s *Store) TouchContact(ctx context.Context, name string, at time.Time) error {
	// Not synced: a power loss may take a LastSeen back a little.
	err := s.writeTx(ctx, false, func(w *wtx) error {
		res, err := w.tx.ExecContext(w.ctx, `UPDATE contacts SET last_seen = max(last_seen, ?) WHERE name = ?`,
			unixNano(at), name)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		return oneOrMore(res)
	})
	if err != nil {
		return fmt.Errorf("touch contact %q: %w", name, err)
	}
	return nil
}
