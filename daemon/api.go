package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// ErrBodyTooLarge: a message body is over api.MaxBodyBytes.
var ErrBodyTooLarge = fmt.Errorf("message is larger than %d bytes", api.MaxBodyBytes)

// ErrEmptyBody: a message has no text.
var ErrEmptyBody = errors.New("message is empty")

// Send stores a message for to in the outbox and returns it queued; the
// peer session delivers it, retrying across reconnects and restarts, and the
// message turns delivered once the peer has stored it. A name the user has
// never talked to is looked up on the tracker and pinned first.
func (d *Daemon) Send(ctx context.Context, to, body string) (store.Message, error) {
	switch {
	case len(body) > api.MaxBodyBytes:
		return store.Message{}, fmt.Errorf("send to %q: %w", to, ErrBodyTooLarge)
	case strings.TrimSpace(body) == "":
		return store.Message{}, fmt.Errorf("send to %q: %w", to, ErrEmptyBody)
	case !utf8.ValidString(body):
		return store.Message{}, fmt.Errorf("send to %q: message is not valid UTF-8", to)
	}
	known, gen := d.known.has(to)
	if !known {
		m, sent, err := d.sendFirst(ctx, to, []byte(body))
		if err != nil {
			return store.Message{}, fmt.Errorf("send to %q: %w", to, err)
		}
		d.known.add(to, gen)
		if sent {
			d.peers.Notify(to)
			return m, nil
		}
	}
	m, err := d.store.Enqueue(ctx, to, []byte(body), time.Now())
	if err != nil {
		return store.Message{}, fmt.Errorf("send to %q: %w", to, err)
	}
	d.peers.Notify(to)
	return m, nil
}

// AddContact makes name a contact: an existing one is returned as is, a new
// one is looked up on the tracker and its key pinned.
func (d *Daemon) AddContact(ctx context.Context, name string) (store.Contact, error) {
	c, rec, err := d.contactOrRecord(ctx, name)
	if err != nil || rec == nil {
		return c, err
	}
	return d.pin(ctx, name, rec.PublicKey)
}

// contactOrRecord returns name's contact if it is pinned, else the record
// the tracker has for name (which the caller pins).
func (d *Daemon) contactOrRecord(ctx context.Context, name string) (store.Contact, *record.Signed, error) {
	if err := record.ValidateName(name); err != nil {
		return store.Contact{}, nil, fmt.Errorf("add contact: %w", err)
	}
	if name == d.cfg.Name {
		return store.Contact{}, nil, fmt.Errorf("add contact %q: that is you", name)
	}
	c, err := d.store.Contact(ctx, name)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return c, nil, err
	}
	rec, err := d.lookup(ctx, name)
	if err != nil {
		return c, nil, err
	}
	return c, &rec, nil
}

// sendFirst is Send to a name not yet known to be pinned. For a contact
// it does nothing (sent false: the caller queues the message). For a new
// name it looks the name up, dials at once with the record just fetched
// (see firstContacts), and pins the key and queues the message in one
// commit (store.EnqueueFirst) while the handshake runs.
func (d *Daemon) sendFirst(ctx context.Context, name string, body []byte) (m store.Message, sent bool, err error) {
	_, rec, err := d.contactOrRecord(ctx, name)
	if err != nil || rec == nil {
		return m, false, err
	}
	done := d.first.pinning(name, *rec)
	d.peers.DialAhead(name)
	c, created, m, err := d.store.EnqueueFirst(ctx, name, rec.PublicKey, body, time.Now())
	c, err = d.pinned(ctx, name, rec.PublicKey, c, created, err)
	done(c, err)
	return m, err == nil, err
}

// VerifyContact marks a contact verified when fingerprint (as the user
// typed it: case, spaces and dashes do not matter) is the pinned key's.
func (d *Daemon) VerifyContact(ctx context.Context, name, fingerprint string) (store.Contact, error) {
	c, err := d.store.Contact(ctx, name)
	if err != nil {
		return c, fmt.Errorf("verify %q: %w", name, err)
	}
	if normFingerprint(fingerprint) != normFingerprint(record.Fingerprint(c.PublicKey)) {
		return c, fmt.Errorf("verify %q: %w", name, ErrFingerprintMismatch)
	}
	if err := d.store.SetVerified(ctx, name, true); err != nil {
		return c, fmt.Errorf("verify %q: %w", name, err)
	}
	c.Verified = true
	return c, nil
}

func normFingerprint(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == ':':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// RemoveContact forgets a contact's pinned key; history stays.
func (d *Daemon) RemoveContact(ctx context.Context, name string) error {
	err := d.store.RemoveContact(ctx, name)
	d.known.remove(name) // even on error: the store may have removed it
	return err
}

// Contacts lists the contacts.
func (d *Daemon) Contacts(ctx context.Context) ([]store.Contact, error) { return d.store.Contacts(ctx) }

// History returns up to limit messages with peer before beforeSeq (0: the
// latest), oldest first.
func (d *Daemon) History(ctx context.Context, peer string, limit int, beforeSeq int64) ([]store.Message, error) {
	return d.store.History(ctx, peer, limit, beforeSeq)
}

// Message returns one message by peer, direction and ID.
func (d *Daemon) Message(ctx context.Context, peer string, dir store.Direction, id [16]byte) (store.Message, error) {
	return d.store.Message(ctx, peer, dir, id)
}

// Events returns committed events after the cursor, oldest first.
func (d *Daemon) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	return d.store.Events(ctx, after, limit)
}
