package store

import (
	"bytes"
	"sort"
	"sync"
)

// Bounds of one peer's tail. A peer that is offline for long stops being
// cached (its tail is dropped and started afresh), so the memory held per
// peer stays small whatever the outbox holds.
const (
	maxTailMsgs  = 4096
	maxTailBytes = 512 << 10
)

// outboxTail keeps, per peer, the newest undelivered outgoing messages in
// memory, so that Pending for a session that has caught up — the common
// case: one message sent, the session wakes to send it — is answered
// without a database read. On a busy machine that read was the largest
// single cost between Send and the wire.
//
// Correctness rests on one fact: every outgoing message is inserted by the
// group committer, which updates the tail after each commit in commit (and
// so Seq) order. A peer's tail is created at a commit that inserts for it,
// with floor just below the first new Seq; from then on every outgoing
// message to the peer with Seq > floor is added, and removed once
// delivered. So for afterSeq ≥ floor the tail holds exactly what the
// database would return; below floor Pending reads the database.
type outboxTail struct {
	mu    sync.Mutex
	peers map[string]*peerTail // guarded by mu
}

type peerTail struct {
	floor int64     // every undelivered outgoing message with Seq > floor is in msgs
	msgs  []Message // ascending Seq; bodies are the tail's own copies
	bytes int       // sum of len(Body)
}

func newOutboxTail() *outboxTail { return &outboxTail{peers: map[string]*peerTail{}} }

// added records committed outgoing messages, in ascending Seq order.
func (o *outboxTail) added(msgs []Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range msgs {
		t := o.peers[m.Peer]
		if t == nil {
			t = &peerTail{floor: m.Seq - 1}
			o.peers[m.Peer] = t
		}
		m.Body = bytes.Clone(notNull(m.Body))
		m.SentAt, m.StoredAt = fromUnixNano(unixNano(m.SentAt)), fromUnixNano(unixNano(m.StoredAt))
		t.msgs = append(t.msgs, m)
		t.bytes += len(m.Body)
		if len(t.msgs) > maxTailMsgs || t.bytes > maxTailBytes {
			delete(o.peers, m.Peer) // the database serves it; a later commit starts anew
		}
	}
}

// pending answers Pending from memory if it can.
func (o *outboxTail) pending(peer string, afterSeq int64, limit int) ([]Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.peers[peer]
	if t == nil || afterSeq < t.floor {
		return nil, false
	}
	i := sort.Search(len(t.msgs), func(i int) bool { return t.msgs[i].Seq > afterSeq })
	n := min(limit, len(t.msgs)-i)
	if n <= 0 {
		return nil, true
	}
	out := make([]Message, n)
	copy(out, t.msgs[i:i+n])
	for j := range out {
		out[j].Body = bytes.Clone(out[j].Body) // callers may keep or change what they get
	}
	return out, true
}

// marked applies a committed MarkSent (state Sent) or MarkDelivered (state
// Delivered: the messages leave the outbox) to peer's tail.
func (o *outboxTail) marked(peer string, ids [][16]byte, state State) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.peers[peer]
	if t == nil || len(ids) == 0 {
		return
	}
	set := make(map[[16]byte]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	kept := t.msgs[:0]
	for _, m := range t.msgs {
		_, hit := set[m.ID]
		switch {
		case hit && state == Delivered:
			t.bytes -= len(m.Body)
			continue
		case hit && m.State == Queued:
			m.State = state
		}
		kept = append(kept, m)
	}
	clear(t.msgs[len(kept):]) // let removed bodies be collected
	t.msgs = kept
}

// seqsOf splits ids into the Seqs of those peer's tail holds and the IDs
// it does not (delivered already, unknown, or older than the tail).
func (o *outboxTail) seqsOf(peer string, ids [][16]byte) (seqs []int64, rest [][16]byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.peers[peer]
	if t == nil {
		return nil, ids
	}
	want := make(map[[16]byte]struct{}, len(ids))
	for _, id := range ids {
		want[id] = struct{}{}
	}
	seqs = make([]int64, 0, len(ids))
	// Acknowledgements come for the oldest messages in the tail, so the
	// walk usually ends early.
	for _, m := range t.msgs {
		if _, ok := want[m.ID]; ok {
			seqs = append(seqs, m.Seq)
			delete(want, m.ID)
			if len(want) == 0 {
				break
			}
		}
	}
	for _, id := range ids {
		if _, ok := want[id]; ok {
			rest = append(rest, id)
			delete(want, id) // an ID listed twice is looked up once
		}
	}
	return seqs, rest
}
