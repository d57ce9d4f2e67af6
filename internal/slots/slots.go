// Package slots bounds the connections still in their handshake, in all
// and per source address: the one admission rule of chatd's listener and
// the relay, so that a flood of silent connections from one address cannot
// take every slot, and no flood can hold unbounded goroutines and TLS
// state while the handshake deadline runs.
package slots

import (
	"net/netip"
	"sync"
)

// Bound names the limit a refused connection hit.
type Bound string

const (
	// Total is the bound on handshakes in progress from everyone.
	Total Bound = "total"
	// PerSource is the bound on handshakes in progress from one address.
	PerSource Bound = "per_source"
)

// Slots counts the handshakes in progress. Make one with New; it is safe
// for concurrent use.
type Slots struct {
	total, perSource int

	mu       sync.Mutex
	n        int
	bySource map[netip.Addr]int
}

// New returns Slots that admit at most total handshakes at once, and at
// most perSource from one address.
func New(total, perSource int) *Slots {
	return &Slots{total: total, perSource: perSource, bySource: make(map[netip.Addr]int)}
}

// Take takes a slot for a connection from src (the zero Addr, as for a
// connection with no IP address, counts only against the total), or
// reports which bound refused it. Every Take that succeeds needs one
// Release with the same src.
func (s *Slots) Take(src netip.Addr) (refused Bound, ok bool) {
	src = src.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.n >= s.total:
		return Total, false
	case src.IsValid() && s.bySource[src] >= s.perSource:
		return PerSource, false
	}
	s.n++
	if src.IsValid() {
		s.bySource[src]++
	}
	return "", true
}

// Release gives back a slot taken for src.
func (s *Slots) Release(src netip.Addr) {
	src = src.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if src.IsValid() {
		if s.bySource[src]--; s.bySource[src] <= 0 {
			delete(s.bySource, src)
		}
	}
}

// InUse is the number of slots taken.
func (s *Slots) InUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// HeldBy is the number of slots src holds.
func (s *Slots) HeldBy(src netip.Addr) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySource[src.Unmap()]
}
