package presence

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// ErrUnregistered is Status.LastError's cause after Unregister: the name
// was deleted from the tracker on the user's request, and Run announces
// nothing more until the daemon starts again.
var ErrUnregistered = errors.New("unregistered (chatctl unregister); chatd registers the name again when it next starts")

// Unregister deletes the name from the tracker with a deletion signed by
// the key, and stops Run from announcing it again. Afterwards lookups of
// the name say not found, and the name is free for anyone to register. It
// waits for an announce in flight, so none can re-register the name after
// the deletion. If the tracker refuses or cannot be reached, nothing
// changes and Run goes on announcing.
func (p *Presence) Unregister(ctx context.Context) error {
	p.announcing.Lock()
	defer p.announcing.Unlock()
	err := p.deleteRecord(ctx)
	if errors.Is(err, client.ErrStaleSeq) { // the tracker holds a later seq (clock stepped back)
		if err = p.catchUp(ctx); err == nil {
			err = p.deleteRecord(ctx)
		}
	}
	if err != nil && !errors.Is(err, client.ErrNotFound) { // not found: already gone
		return fmt.Errorf("unregister %q: %w", p.cfg.Name, err)
	}
	p.mu.Lock()
	p.unregistered = true
	p.status.Registered = false
	p.status.Addrs = nil
	p.status.NextAnnounce = time.Time{}
	p.status.LastError = ErrUnregistered.Error()
	p.mu.Unlock()
	return nil
}

func (p *Presence) deleteRecord(ctx context.Context) error {
	p.mu.Lock()
	p.seq = max(p.seq+1, uint64(p.cfg.Now().UnixMicro()))
	d := record.Deletion{Name: p.cfg.Name, PublicKey: p.cfg.Key.Public().(ed25519.PublicKey), Seq: p.seq}
	p.mu.Unlock()
	return p.cfg.Tracker.Delete(ctx, d, record.SignDeletion(d, p.cfg.Key))
}

// isUnregistered reports whether Unregister has succeeded.
func (p *Presence) isUnregistered() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unregistered
}
