package daemon

import "sync"

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
