package presence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// announce publishes a record with addrs, registering the name if the
// tracker does not know it yet. Seqs are derived from the clock (microseconds)
// so that a restarted daemon needs no stored counter; when the tracker holds
// a higher seq (clock stepped back) it continues from the stored one.
//
// With dialback it asks the tracker to connect back to the observed
// address; an answer about a connection that did not leave from the
// listening port is dropped (Dialback none), since it is about another port.
func (p *Presence) announce(ctx context.Context, addrs []string, dialback bool) (client.Announce, error) {
	p.announcing.Lock()
	defer p.announcing.Unlock()
	if p.isUnregistered() {
		return client.Announce{}, ErrUnregistered
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var opts []client.AnnounceOption
	var fromListenPort atomic.Bool
	if dialback {
		opts = append(opts, client.WithDialback())
		ctx = fromPort(ctx, p.cfg.Listen.Port(), &fromListenPort)
	}
	register := !p.Status().Registered
	for attempt := 0; attempt < 4; attempt++ {
		signed, err := p.sign(addrs)
		if err != nil {
			return client.Announce{}, err
		}
		var ann client.Announce
		if register {
			ann, err = p.cfg.Tracker.Register(ctx, signed, opts...)
		} else {
			ann, err = p.cfg.Tracker.Update(ctx, signed, opts...)
		}
		switch {
		case err == nil:
			if !fromListenPort.Load() {
				ann.Dialback = client.DialbackNone
			}
			return ann, nil
		case errors.Is(err, client.ErrNotFound):
			register = true // deleted or purged: take the name again
		case errors.Is(err, client.ErrNameTaken), errors.Is(err, client.ErrStaleSeq):
			// Either our own earlier registration or someone else's:
			// only the stored key can tell.
			if err := p.catchUp(ctx); err != nil {
				return client.Announce{}, err
			}
			register = false
		case errors.Is(err, client.ErrKeyMismatch):
			return client.Announce{}, ErrNameTaken
		default:
			return client.Announce{}, fmt.Errorf("announce to tracker: %w", err)
		}
	}
	return client.Announce{}, errors.New("announce to tracker: gave up after repeated conflicts")
}

// catchUp reads the stored record: if it is ours, later seqs start above
// its seq; if another key holds the name, the name is taken.
func (p *Presence) catchUp(ctx context.Context) error {
	cur, _, err := p.cfg.Tracker.Lookup(ctx, p.cfg.Name)
	if err != nil && !errors.Is(err, client.ErrExpired) {
		return fmt.Errorf("look up own record: %w", err)
	}
	if !bytes.Equal(cur.PublicKey, p.cfg.Key.Public().(ed25519.PublicKey)) {
		return ErrNameTaken
	}
	p.mu.Lock()
	p.seq = max(p.seq, cur.Seq)
	p.mu.Unlock()
	return nil
}

func (p *Presence) sign(addrs []string) (record.Signed, error) {
	now := p.cfg.Now()
	p.mu.Lock()
	p.seq = max(p.seq+1, uint64(now.UnixMicro()))
	seq := p.seq
	p.mu.Unlock()
	rec := record.Record{
		Name:      p.cfg.Name,
		PublicKey: p.cfg.Key.Public().(ed25519.PublicKey),
		Addrs:     addrs,
		Seq:       seq,
		Expires:   now.Add(p.cfg.RecordTTL).Truncate(time.Second),
	}
	s, err := record.Sign(rec, p.cfg.Key)
	if err != nil {
		return record.Signed{}, fmt.Errorf("sign record: %w", err)
	}
	return s, nil
}
