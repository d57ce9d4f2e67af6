package daemon

import (
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
	"github.com/p2pchat/p2pchat/daemon/wire"
)

// This file is the peer.Handler side of the daemon: the store behind the
// sessions' send and receive loops.

// Deliver stores a batch of received messages in one transaction; the
// session acknowledges them only after it returns nil. Duplicates (a resend
// after a lost ack) are dropped by the store and acknowledged again. A
// contact's messages go into the history; a stranger's into its request
// (consent). The peer's rate and daily bytes are metered first, and
// given back if the batch is not stored. A full disk refuses the batch
// with a reason (errRecipientDiskFull).
func (d *Daemon) Deliver(ctx context.Context, from string, key ed25519.PublicKey, msgs []wire.Msg) error {
	st := peer.Stranger
	if d.isContact(ctx, from) {
		st = peer.Contact
	}
	if err := d.meters.admit(ctx, from, st, msgs); err != nil {
		return err
	}
	in := make([]store.Message, len(msgs))
	for i, m := range msgs {
		in[i] = store.Message{ID: m.ID, Peer: from, Direction: store.In, Body: m.Body, SentAt: m.SentAt}
	}
	a, err := d.store.Deliver(ctx, from, key, in, d.requestLimits())
	if err != nil {
		d.meters.refund(from, msgs) // nothing was stored; it comes again
	}
	if errors.Is(err, store.ErrDiskFull) {
		// A refusal, not a failure: the sender is told why, reports it
		// to its user and dials again after the refusal delay rather
		// than every backoff_min with the same batch.
		return fmt.Errorf("%w (%w)", errRecipientDiskFull, err)
	}
	if err != nil {
		return err
	}
	if a.Request && slices.Contains(a.Fresh, true) {
		d.log.Debug("kept messages from a stranger as a request", zap.String("peer", from), zap.Int("messages", len(msgs)))
	}
	return nil
}

// errRecipientDiskFull refuses a peer's messages while the store cannot
// take them.
var errRecipientDiskFull = &peer.RefusedError{Reason: "the recipient's disk is full"}

// requestLimits are [limits]' bounds on requests.
func (d *Daemon) requestLimits() store.RequestLimits {
	l := d.cfg.Limits
	return store.RequestLimits{Senders: l.RequestSenders, Messages: l.RequestMessages, Bytes: l.RequestBytes}
}

// isContact reports whether name is pinned, asking the store only for
// names not already known pinned.
func (d *Daemon) isContact(ctx context.Context, name string) bool {
	known, gen := d.known.has(name)
	if known {
		return true
	}
	if _, err := d.store.Contact(ctx, name); err != nil {
		return false
	}
	d.known.add(name, gen)
	return true
}

// Pending returns the next undelivered outgoing messages for a peer, in
// send order.
func (d *Daemon) Pending(ctx context.Context, to string, afterSeq int64, limit int) ([]peer.OutMsg, error) {
	ms, err := d.store.Pending(ctx, to, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]peer.OutMsg, len(ms))
	for i, m := range ms {
		out[i] = peer.OutMsg{Seq: m.Seq, Msg: wire.Msg{ID: m.ID, SentAt: m.SentAt, Body: m.Body}}
	}
	return out, nil
}

// Sent marks messages as written to a session.
func (d *Daemon) Sent(ctx context.Context, to string, ids [][16]byte) error {
	return d.store.MarkSent(ctx, to, ids)
}

// Acked marks messages delivered: the peer has stored them.
func (d *Daemon) Acked(ctx context.Context, to string, ids [][16]byte) error {
	_, err := d.store.MarkDelivered(ctx, to, ids)
	return err
}

// PeerState records a session coming up or going down as a presence event.
func (d *Daemon) PeerState(name string, up bool, remoteAddr string, path peer.Path) {
	// The session that reports this may be stopping; the event must still
	// be written, so it gets its own short deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data, _ := json.Marshal(struct {
		Online bool   `json:"online"`
		Addr   string `json:"addr,omitempty"`
		Path   string `json:"path,omitempty"`
	}{up, remoteAddr, string(path)})
	if _, err := d.store.AppendEvent(ctx, store.Event{Type: "presence", Peer: name, Data: data}); err != nil {
		d.log.Warn("record presence event", zap.String("peer", name), zap.Error(err))
	}
	if err := d.store.TouchContact(ctx, name, time.Now()); err != nil {
		d.log.Debug("touch contact", zap.String("peer", name), zap.Error(err))
	}
}

// Refused hears about sessions the peer manager refused or the peer
// ended. A dialled peer whose key differs from the one Resolve gave (the
// pin) is shown loudly; the accepting side reports its refusals from
// Authorize. A peer that refused our messages for a reason (a quota) is
// reported as a "refused" event, so the user sees why they wait.
func (d *Daemon) Refused(name string, err error) {
	var bye *peer.ByeError
	if errors.As(err, &bye) {
		if reason, ok := bye.Refusal(); ok {
			d.reportRefusal(name, reason)
		}
		return
	}
	var km *peer.KeyMismatchError
	if !errors.As(err, &km) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.reportMismatch(ctx, name, km.Want, km.Got, "dialled peer")
}

var _ peer.RefusalReporter = (*Daemon)(nil)

// refusalReportEvery bounds the "refused" reports: one per peer and
// reason per interval (the dialler retries with backoff, and each retry is
// refused again).
const refusalReportEvery = time.Minute

// reportRefusal logs and records, at most once per peer and reason per
// refusalReportEvery, that the peer's chatd refused our messages.
func (d *Daemon) reportRefusal(name, reason string) {
	now := time.Now()
	d.mu.Lock()
	last, seen := d.refusals[name]
	report := !seen || last.reason != reason || now.Sub(last.at) >= refusalReportEvery
	if report {
		if len(d.refusals) >= maxUnknownNames {
			clear(d.refusals) // only ever filled by peers we send to
		}
		d.refusals[name] = refusal{reason: reason, at: now}
	}
	d.mu.Unlock()
	if !report {
		return
	}
	d.log.Warn("peer refused our messages for now; they stay queued", zap.String("peer", name), zap.String("reason", reason))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data, _ := json.Marshal(map[string]string{"detail": name + "'s chatd refused our messages: " + reason})
	if _, err := d.store.AppendEvent(ctx, store.Event{Type: EventRefused, Peer: name, Data: data}); err != nil {
		d.log.Warn("record refusal event", zap.Error(err))
	}
}

// EventRefused is the event type of reportRefusal (api.EventRefused).
const EventRefused = "refused"

type refusal struct {
	reason string
	at     time.Time
}
