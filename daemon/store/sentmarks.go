package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// MarkSent's record is kept in memory first. On a healthy session the
// acknowledgement follows within a round trip and a commit, and moves the
// message from queued to delivered directly, so writing "sent" in between
// was a row update per message (a quarter of the sender's store work)
// that nobody would read. A mark is written (in a transaction that is not
// synced: losing it costs nothing, the message is resent either way) only
// once it has waited sentWriteAfter for its acknowledgement, or when too
// many wait, or at Close. Until then reads (Message, History, Pending)
// show the message as sent from memory, so the state a caller sees is the
// same as if every mark had been written at once.
const (
	sentWriteAfter = time.Second
	maxSentMarks   = 1 << 16
)

type sentMarks struct {
	mu sync.Mutex
	// peers maps peer → ID → when marked (Unix nanoseconds), or minus
	// when written (see written). Guarded by mu.
	peers  map[string]map[[16]byte]int64
	oldest int64        // guarded by mu: a lower bound of the marks' times, 0 if none
	n      atomic.Int64 // marks held
	busy   atomic.Bool  // a write of due marks is on its way
}

func newSentMarks() *sentMarks { return &sentMarks{peers: map[string]map[[16]byte]int64{}} }

// add marks ids of peer sent at now; a mark already held keeps its time.
func (m *sentMarks) add(peer string, ids [][16]byte, now int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[peer]
	if p == nil {
		p = make(map[[16]byte]int64, len(ids))
		m.peers[peer] = p
	}
	for _, id := range ids {
		if _, ok := p[id]; !ok {
			p[id] = now
			m.n.Add(1)
		}
	}
	if m.oldest == 0 {
		m.oldest = now
	}
}

// has reports whether id of peer is marked sent and not yet written.
func (m *sentMarks) has(peer string, id [16]byte) bool {
	if m.n.Load() == 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.peers[peer][id]
	return ok
}

// drop forgets the marks of ids: they were delivered.
func (m *sentMarks) drop(peer string, ids [][16]byte) {
	if m.n.Load() == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[peer]
	if p == nil {
		return
	}
	for _, id := range ids {
		if _, ok := p[id]; ok {
			delete(p, id)
			m.n.Add(-1)
		}
	}
	if len(p) == 0 {
		delete(m.peers, peer)
	}
	if m.n.Load() == 0 {
		m.oldest = 0
	}
}

// due returns the marks to write now: those older than sentWriteAfter at
// now, or all of them if there are too many or all is set. It returns nil
// if there are none, or if another write of due marks is on its way; a
// caller that gets marks must call done.
func (m *sentMarks) due(now int64, all bool) map[string][][16]byte {
	n := m.n.Load()
	if n == 0 {
		return nil
	}
	all = all || n > maxSentMarks
	m.mu.Lock()
	early := !all && (m.oldest == 0 || now-m.oldest < int64(sentWriteAfter))
	m.mu.Unlock()
	if early || !m.busy.CompareAndSwap(false, true) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][][16]byte{}
	oldest := int64(0)
	for peer, p := range m.peers {
		for id, at := range p {
			switch {
			case at < 0: // written by an earlier write: forget it
				delete(p, id)
				m.n.Add(-1)
			case all || now-at >= int64(sentWriteAfter):
				out[peer] = append(out[peer], id)
			case oldest == 0 || at < oldest:
				oldest = at
			}
		}
		if len(p) == 0 {
			delete(m.peers, peer)
		}
	}
	m.oldest = oldest
	if len(out) == 0 {
		m.busy.Store(false)
		return nil
	}
	return out
}

// done ends a write of due marks.
func (m *sentMarks) done() { m.busy.Store(false) }

// written records that marks were written at `at`. They are kept (and
// shown) a while longer, until the next write, so that a read that found
// a message queued in the database just before the write still finds its
// mark after it.
func (m *sentMarks) written(marks map[string][][16]byte, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for peer, ids := range marks {
		p := m.peers[peer]
		for _, id := range ids {
			if _, ok := p[id]; ok {
				p[id] = -at
			}
		}
	}
	if m.oldest == 0 || at < m.oldest {
		m.oldest = at
	}
}

// writeSentMarks writes the marks that are due (all of them with all) in
// one transaction that is not synced, through the committer.
func (s *Store) writeSentMarks(ctx context.Context, all bool) error {
	now := s.now().UnixNano()
	due := s.sent.due(now, all)
	if due == nil {
		return nil
	}
	defer s.sent.done()
	_, err := s.gc.Do(ctx, enqueueReq{lazy: true, op: func(w *wtx) error {
		for peer, ids := range due {
			if _, err := w.execByIDs(w.s.stmts.markSent, []any{peer}, ids); err != nil {
				return err
			}
		}
		return nil
	}, after: func() { s.sent.written(due, now) }})
	return err
}

// flushSentMarks writes every mark before the store closes, so that what
// was sent still says so after a restart.
func (s *Store) flushSentMarks() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.writeSentMarks(ctx, true); err != nil {
		s.log.Debug("write sent marks at close: " + err.Error())
	}
}
