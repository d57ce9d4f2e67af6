package daemon

import (
	"context"
	"encoding/json"
	"errors"
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
// after a lost ack) are dropped by the store and acknowledged again.
func (d *Daemon) Deliver(ctx context.Context, from string, msgs []wire.Msg) error {
	in := make([]store.Message, len(msgs))
	for i, m := range msgs {
		in[i] = store.Message{ID: m.ID, Peer: from, Direction: store.In, Body: m.Body, SentAt: m.SentAt}
	}
	_, err := d.store.Receive(ctx, from, in)
	return err
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

// Refused hears about sessions the peer manager refused. A dialled peer
// whose key differs from the one Resolve gave (the pin) is shown loudly;
// the accepting side reports its refusals from Authorize.
func (d *Daemon) Refused(name string, err error) {
	var km *peer.KeyMismatchError
	if !errors.As(err, &km) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.reportMismatch(ctx, name, km.Want, km.Got, "dialled peer")
}

var _ peer.RefusalReporter = (*Daemon)(nil)
