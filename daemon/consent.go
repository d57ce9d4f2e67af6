package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// This file is the user's side of consent: requests from strangers, and
// the block list.

// ErrBlocked: the peer's key is on the block list.
var ErrBlocked = errors.New("key is blocked")

// loadBlocked reads the block list into memory, so that the handshake can
// refuse a blocked key without a store read.
func (d *Daemon) loadBlocked(ctx context.Context) error {
	bl, err := d.store.BlockList(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blocked = make(map[string]bool, len(bl))
	for _, b := range bl {
		d.blocked[string(b.PublicKey)] = true
	}
	return nil
}

func (d *Daemon) isBlocked(pub ed25519.PublicKey) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.blocked[string(pub)]
}

// Requests lists what strangers sent, most recently active first.
func (d *Daemon) Requests(ctx context.Context) ([]store.Request, error) {
	return d.store.Requests(ctx)
}

// AcceptRequest makes name a contact and moves its request into the
// history.
func (d *Daemon) AcceptRequest(ctx context.Context, name string) (store.Contact, error) {
	_, gen := d.known.has(name)
	c, err := d.store.AcceptRequest(ctx, name)
	if err != nil {
		return c, err
	}
	d.known.add(name, gen)
	d.log.Info("accepted request", zap.String("peer", name), zap.String("fingerprint", record.Fingerprint(c.PublicKey)))
	d.peers.Notify(name) // replies queued meanwhile go out now
	return c, nil
}

// DeclineRequest deletes name's request.
func (d *Daemon) DeclineRequest(ctx context.Context, name string) error {
	return d.store.DeclineRequest(ctx, name)
}

// Block puts name's key on the block list: the key of the contact, else of
// its request, else of its tracker record. Its request goes, a contact
// pinned to it is removed (history stays), and its sessions end.
func (d *Daemon) Block(ctx context.Context, name string) (store.Blocked, error) {
	if err := record.ValidateName(name); err != nil {
		return store.Blocked{}, fmt.Errorf("block: %w", err)
	}
	key, err := d.keyOf(ctx, name)
	if err != nil {
		return store.Blocked{}, fmt.Errorf("block %q: %w", name, err)
	}
	removed, err := d.store.Block(ctx, name, key)
	if err != nil {
		return store.Blocked{}, err
	}
	d.mu.Lock()
	d.blocked[string(key)] = true
	d.mu.Unlock()
	for _, n := range removed {
		d.known.remove(n)
	}
	n := d.peers.Disconnect(key)
	d.log.Info("blocked a key", zap.String("peer", name), zap.String("fingerprint", record.Fingerprint(key)),
		zap.Strings("removed_contacts", removed), zap.Int("sessions_ended", n))
	return store.Blocked{PublicKey: key, Name: name}, nil
}

// keyOf is the key to block for name: pinned, else its request's, else
// the tracker's.
func (d *Daemon) keyOf(ctx context.Context, name string) (ed25519.PublicKey, error) {
	if c, err := d.store.Contact(ctx, name); err == nil {
		return c.PublicKey, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if key, err := d.store.RequestKey(ctx, name); err == nil {
		return key, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	rec, err := d.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return rec.PublicKey, nil
}

// Unblock takes a key off the block list, named by the name it was
// blocked under or its fingerprint.
func (d *Daemon) Unblock(ctx context.Context, who string) error {
	bl, err := d.store.BlockList(ctx)
	if err != nil {
		return err
	}
	for _, b := range bl {
		if b.Name == who || normFingerprint(record.Fingerprint(b.PublicKey)) == normFingerprint(who) {
			if err := d.store.Unblock(ctx, b.PublicKey); err != nil {
				return err
			}
			d.mu.Lock()
			delete(d.blocked, string(b.PublicKey))
			d.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("unblock %q: not on the block list: %w", who, store.ErrNotFound)
}

// BlockList lists the blocked keys.
func (d *Daemon) BlockList(ctx context.Context) ([]store.Blocked, error) {
	return d.store.BlockList(ctx)
}
