package daemon

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// Errors the Go API returns for cases callers branch on.
var (
	// ErrUnknownUser: the tracker has no record for the name.
	ErrUnknownUser = errors.New("unknown user")
	// ErrKeyMismatch: a key differs from the one pinned for a contact.
	ErrKeyMismatch = errors.New("key does not match the pinned key")
	// ErrFingerprintMismatch: a fingerprint the user typed is not the contact's.
	ErrFingerprintMismatch = errors.New("fingerprint does not match")
	// ErrTrackerUnavailable: the tracker could not be asked, or its answer
	// was unusable.
	ErrTrackerUnavailable = errors.New("tracker lookup failed")
	// ErrStaleRecord: the tracker returned an older record than one
	// already seen.
	ErrStaleRecord = errors.New("tracker returned a stale record")
)

// Resolve tells the peer manager which key to expect from a contact and
// where to dial it. A pinned key always wins over the tracker; a tracker
// record with another key is refused and reported. When the tracker is
// unreachable, a pinned contact is dialled at its last known addresses.
// The first dial after a first Send uses the record that Send fetched a
// moment ago (see firstContacts) rather than asking the tracker again.
func (d *Daemon) Resolve(ctx context.Context, name string) (ed25519.PublicKey, []string, error) {
	if rec, ok := d.first.record(name); ok && d.noteRecord(name, rec) {
		// The Send that fetched it is pinning its key right now; if
		// another key is pinned already, Authorize refuses the peer.
		return rec.PublicKey, rec.Addrs, nil
	}
	c, cerr := d.store.Contact(ctx, name)
	if cerr != nil && !errors.Is(cerr, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("resolve %q: %w", name, cerr)
	}
	pinned := cerr == nil
	rec, err := d.lookup(ctx, name)
	d.mu.Lock()
	last := d.records[name]
	if err == nil && rec.Seq < last.seq {
		// A tracker replaying an older record (old addresses) is as
		// useless as one that is down.
		err = fmt.Errorf("resolve %q: tracker returned seq %d after %d: %w", name, rec.Seq, last.seq, ErrStaleRecord)
	}
	d.mu.Unlock()
	switch {
	case err != nil && pinned && len(last.addrs) > 0:
		d.log.Debug("tracker lookup failed; using last known addresses", zap.String("peer", name), zap.Error(err))
		return c.PublicKey, slices.Clone(last.addrs), nil
	case err != nil:
		return nil, nil, fmt.Errorf("resolve %q: %w", name, err)
	case pinned && !bytes.Equal(c.PublicKey, rec.PublicKey):
		d.reportMismatch(ctx, name, c.PublicKey, rec.PublicKey, "tracker record")
		return nil, nil, fmt.Errorf("resolve %q: tracker offers %s: %w", name, record.Fingerprint(rec.PublicKey), ErrKeyMismatch)
	}
	d.noteRecord(name, rec)
	return rec.PublicKey, rec.Addrs, nil
}

// noteRecord remembers rec as name's newest record, unless an older one
// than the newest seen: then it reports false.
func (d *Daemon) noteRecord(name string, rec record.Signed) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rec.Seq < d.records[name].seq {
		return false
	}
	d.records[name] = lastRec{seq: rec.Seq, addrs: slices.Clone(rec.Addrs)}
	return true
}

// lastRec is what the daemon remembers of a contact's newest record.
type lastRec struct {
	seq   uint64
	addrs []string
}

// Authorize decides whether a peer that proved key pub in the TLS handshake
// may hold a session as name. A blocked key is refused before anything
// else, with no tracker lookup. A contact must prove its pinned key. Anyone
// else is a stranger: the tracker's signed record for name must carry pub
// (lookups that strangers cause are limited), and the session is allowed
// but nothing is pinned — what a stranger sends is a request (see
// Deliver). A peer over its daily bytes is refused with the reason.
func (d *Daemon) Authorize(ctx context.Context, name string, pub ed25519.PublicKey) (peer.Standing, error) {
	if d.isBlocked(pub) {
		d.blockedRefusals.Add(1)
		return peer.Stranger, fmt.Errorf("authorize %q: %w", name, ErrBlocked)
	}
	c, err := d.store.Contact(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		// A first Send that dialled name ahead of its commits may be
		// pinning it right now: decide on that pin, as if it had come
		// first. A pin that failed may have found another key pinned.
		if p := d.first.awaitPin(ctx, name); p != nil && p.err == nil {
			c, err = p.c, nil
		} else if p != nil {
			c, err = d.store.Contact(ctx, name)
		}
	}
	if err == nil {
		if !bytes.Equal(c.PublicKey, pub) {
			d.reportMismatch(ctx, name, c.PublicKey, pub, "connecting peer")
			return peer.Contact, fmt.Errorf("authorize %q: offered %s, pinned %s: %w",
				name, record.Fingerprint(pub), record.Fingerprint(c.PublicKey), ErrKeyMismatch)
		}
		return peer.Contact, d.meters.overQuota(name, peer.Contact)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return peer.Stranger, fmt.Errorf("authorize %q: %w", name, err)
	}
	if err := d.meters.overQuota(name, peer.Stranger); err != nil {
		return peer.Stranger, err
	}
	// A stranger's claim costs a tracker lookup from our address: bound
	// them, and remember the names the tracker does not know, so that a
	// flood of made-up names cannot get us rate-limited at the tracker.
	if err := d.mayLookUpStranger(name); err != nil {
		return peer.Stranger, fmt.Errorf("authorize stranger %q: %w", name, err)
	}
	rec, err := d.lookup(ctx, name)
	if errors.Is(err, ErrUnknownUser) {
		d.rememberUnknown(name)
	}
	if err != nil {
		return peer.Stranger, fmt.Errorf("authorize stranger %q: %w", name, err)
	}
	if !bytes.Equal(rec.PublicKey, pub) {
		return peer.Stranger, fmt.Errorf("authorize stranger %q: offered key %s is not the tracker's %s: %w",
			name, record.Fingerprint(pub), record.Fingerprint(rec.PublicKey), ErrKeyMismatch)
	}
	return peer.Stranger, nil
}

// ErrTooManyStrangers: unknown peers asked for more tracker lookups than
// the limit allows; the connection is refused without one.
var ErrTooManyStrangers = errors.New("too many connections from unknown peers; not looking them up now")

// mayLookUpStranger allows a tracker lookup for a peer that is not a
// contact, unless the name is in the negative cache or the stranger budget
// is spent.
func (d *Daemon) mayLookUpStranger(name string) error {
	d.mu.Lock()
	until, known := d.unknown[name]
	d.mu.Unlock()
	if known && time.Now().Before(until) {
		return fmt.Errorf("look up %q: %w (cached)", name, ErrUnknownUser)
	}
	if !d.strangers.Allow() {
		return ErrTooManyStrangers
	}
	return nil
}

// maxUnknownNames bounds the negative cache.
const maxUnknownNames = 4096

// rememberUnknown puts name in the negative cache for UnknownNameTTL.
func (d *Daemon) rememberUnknown(name string) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.unknown) >= maxUnknownNames {
		for n, until := range d.unknown {
			if now.After(until) {
				delete(d.unknown, n)
			}
		}
		if len(d.unknown) >= maxUnknownNames {
			return // full of fresh entries: the stranger budget still bounds lookups
		}
	}
	d.unknown[name] = now.Add(d.cfg.Peer.UnknownNameTTL.Duration)
}

// lookup fetches and verifies name's tracker record (the client checks the
// signature and the name). An expired record is still usable as a hint.
func (d *Daemon) lookup(ctx context.Context, name string) (record.Signed, error) {
	rec, _, err := d.tracker.Lookup(ctx, name)
	switch {
	case err == nil, errors.Is(err, client.ErrExpired):
		return rec, nil
	case errors.Is(err, client.ErrNotFound):
		return rec, fmt.Errorf("look up %q: %w", name, ErrUnknownUser)
	default:
		return rec, fmt.Errorf("look up %q: %w: %w", name, ErrTrackerUnavailable, err)
	}
}

// pin records pub as name's key (trust on first use) and emits a contact
// event when it is new.
func (d *Daemon) pin(ctx context.Context, name string, pub ed25519.PublicKey) (store.Contact, error) {
	c, created, err := d.store.PinContact(ctx, name, pub)
	return d.pinned(ctx, name, pub, c, created, err)
}

// pinned reports the outcome of a pin of pub for name (store.PinContact or
// store.EnqueueFirst): a refused key loudly (reportMismatch), a new
// contact in the log.
func (d *Daemon) pinned(ctx context.Context, name string, pub ed25519.PublicKey, c store.Contact, created bool, err error) (store.Contact, error) {
	if errors.Is(err, store.ErrKeyMismatch) {
		d.reportMismatch(ctx, name, c.PublicKey, pub, "tracker record")
		return c, fmt.Errorf("pin %q: %w", name, ErrKeyMismatch)
	}
	if err != nil {
		return c, fmt.Errorf("pin %q: %w", name, err)
	}
	if created {
		d.log.Info("pinned new contact", zap.String("peer", name), zap.String("fingerprint", record.Fingerprint(pub)))
	}
	return c, nil
}

// mismatchReportEvery bounds the key_mismatch reports: one per contact
// per interval, whatever the number of keys offered (an impostor can make
// fresh keys faster than anyone can read about them).
const mismatchReportEvery = 10 * time.Minute

// reportMismatch logs a refused key loudly and records a key_mismatch
// event, at most once per contact per mismatchReportEvery, so a retrying
// impostor cannot flood the event log or the log. The map holds contacts
// only (a mismatch needs a pinned key), so it stays small.
func (d *Daemon) reportMismatch(ctx context.Context, name string, pinned, offered ed25519.PublicKey, source string) {
	pfp, ofp := record.Fingerprint(pinned), record.Fingerprint(offered)
	now := time.Now()
	d.mu.Lock()
	last, seen := d.mismatched[name]
	if !seen || now.Sub(last) >= mismatchReportEvery {
		d.mismatched[name] = now
	}
	d.mu.Unlock()
	if seen && now.Sub(last) < mismatchReportEvery {
		return
	}
	d.log.Error("REFUSED a key that differs from the pinned key",
		zap.String("peer", name), zap.String("source", source),
		zap.String("pinned", pfp), zap.String("offered", ofp))
	data, _ := json.Marshal(map[string]string{"pinned": pfp, "offered": ofp, "source": source})
	if _, err := d.store.AppendEvent(ctx, store.Event{Type: "key_mismatch", Peer: name, Data: data}); err != nil {
		d.log.Warn("record key mismatch event", zap.Error(err))
	}
}
