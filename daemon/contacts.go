package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// knownContacts remembers the names pinned in the store, so that Send,
// which must make sure its recipient is a contact, does not read the store
// for every message (that read was a quarter of the CPU time of sending).
//
// It only ever errs towards asking the store: a name is added after the
// store showed it pinned, and removed after the store removed it. gen
// makes a look-up that raced a removal not cache its stale answer.
type knownContacts struct {
	mu    sync.Mutex
	names map[string]bool // guarded by mu
	gen   uint64          // guarded by mu: bumped by every removal
}

// has reports whether name is known pinned, and the generation to pass
// to add if the caller goes to the store instead.
func (k *knownContacts) has(name string) (bool, uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.names[name], k.gen
}

// add records name as pinned, unless a removal happened since gen was read.
func (k *knownContacts) add(name string, gen uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gen != gen {
		return
	}
	if k.names == nil {
		k.names = map[string]bool{}
	}
	k.names[name] = true
}

// remove forgets name; call it after the store has removed the contact.
func (k *knownContacts) remove(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.names, name)
	k.gen++
}

// firstRecordTTL bounds how long a record a first Send fetched may stand
// in for the dialler's own lookup. The dial follows within milliseconds;
// a record older than this is looked up again.
const firstRecordTTL = 10 * time.Second

// firstContacts is what a first Send to a new name (see sendFirst) shares
// with the dialler it starts ahead of the commits, and with Authorize:
//
//   - the record it just fetched and verified, which the dialler's Resolve
//     takes once instead of asking the tracker a second time (a retry
//     after a failed dial asks again: the addresses may be what failed);
//   - that the pin is being committed, so that Authorize, finding no pin
//     yet for the peer we are dialling, waits for it instead of treating
//     a contact-to-be as a stranger.
type firstContacts struct {
	mu      sync.Mutex
	records map[string]firstRecord // guarded by mu: taken by record
	pins    map[string]*pinning    // guarded by mu: pins in progress
}

// A pinning is a pin in progress; c and err are its outcome, set before
// done is closed.
type pinning struct {
	done chan struct{}
	c    store.Contact
	err  error
}

type firstRecord struct {
	rec record.Signed
	at  time.Time
}

// pinning notes that name is being pinned from rec, and returns the func
// to call with the pin's outcome once it has committed or failed.
func (f *firstContacts) pinning(name string, rec record.Signed) (done func(store.Contact, error)) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.records == nil {
		f.records, f.pins = map[string]firstRecord{}, map[string]*pinning{}
	}
	for n, r := range f.records { // ones no dialler took (it was stopping)
		if now.Sub(r.at) > firstRecordTTL {
			delete(f.records, n)
		}
	}
	f.records[name] = firstRecord{rec: rec, at: now}
	if f.pins[name] != nil {
		return func(store.Contact, error) {} // a concurrent first Send pins it; it reports
	}
	p := &pinning{done: make(chan struct{})}
	f.pins[name] = p
	return func(c store.Contact, err error) {
		f.mu.Lock()
		delete(f.pins, name)
		f.mu.Unlock()
		p.c, p.err = c, err
		close(p.done)
	}
}

// record takes the record a first Send fetched for name, if it is fresh.
func (f *firstContacts) record(name string) (record.Signed, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[name]
	delete(f.records, name)
	return r.rec, ok && time.Since(r.at) <= firstRecordTTL
}

// awaitPin waits until a pin of name in progress is committed or failed,
// and returns it with its outcome; nil if there was none (or ctx ended).
func (f *firstContacts) awaitPin(ctx context.Context, name string) *pinning {
	f.mu.Lock()
	p := f.pins[name]
	f.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p
	case <-ctx.Done():
		return nil
	}
}
