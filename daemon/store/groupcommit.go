package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// maxGroup bounds one group commit, so a flood of callers cannot make a
// single transaction (and everyone's latency) grow without limit.
const maxGroup = 512

// enqueueReq is one caller's Enqueue, or another small write (op), waiting
// for the committer.
type enqueueReq struct {
	ctx    context.Context
	peer   string
	body   []byte
	sentAt time.Time
	// op, when set, is a write other than an Enqueue (MarkSent,
	// MarkDelivered) that rides in the same transaction as the round's
	// Enqueues instead of paying for a commit of its own. It may run more
	// than once (alone, after a failed round), so it must only assign to
	// what it reports.
	op    func(w *wtx) error
	after func()          // optional, with op: runs once op's transaction has committed
	res   chan enqueueRes // buffered (1): the committer never blocks on a caller
}

type enqueueRes struct {
	msg Message
	err error
}

// groupCommit coalesces concurrent Enqueue calls: one goroutine takes every
// request waiting at that moment and writes them in a single transaction.
// While it commits, new callers queue up for the next round, so under load
// the cost of a commit is shared by many messages, and when idle a lone
// request is committed at once.
type groupCommit struct {
	s       *Store
	reqs    chan *enqueueReq
	quit    chan struct{} // closed by stop: no new work
	stopped chan struct{} // closed when the committer goroutine has exited
	ctx     context.Context
	cancel  context.CancelFunc
	once    sync.Once

	requests atomic.Int64 // requests taken by the committer
	batches  atomic.Int64 // rounds: the transactions requests were grouped into
}

func startGroupCommit(s *Store) *groupCommit {
	ctx, cancel := context.WithCancel(context.Background())
	g := &groupCommit{
		s:       s,
		reqs:    make(chan *enqueueReq, maxGroup),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
	go g.run()
	return g
}

// stop ends the committer after the round in progress and fails queued
// requests with ErrClosed.
func (g *groupCommit) stop() {
	g.once.Do(func() {
		close(g.quit)
		g.cancel()
		<-g.stopped
	})
}

func (g *groupCommit) run() {
	defer close(g.stopped)
	batch := make([]*enqueueReq, 0, maxGroup)
	for {
		select {
		case <-g.quit:
			g.failQueued()
			return
		case r := <-g.reqs:
			batch = append(batch[:0], r)
		}
		// Let callers that were just answered queue their next request
		// before draining: on a busy machine this makes commits several
		// times larger (and cheaper per message) at the cost of one yield.
		runtime.Gosched()
		batch = g.drain(batch)
		g.requests.Add(int64(countEnqueues(batch)))
		g.batches.Add(1)
		g.commit(batch)
	}
}

func countEnqueues(batch []*enqueueReq) int {
	n := 0
	for _, r := range batch {
		if r.op == nil {
			n++
		}
	}
	return n
}

// drain adds the requests already waiting, without blocking.
func (g *groupCommit) drain(batch []*enqueueReq) []*enqueueReq {
	for len(batch) < maxGroup {
		select {
		case r := <-g.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (g *groupCommit) failQueued() {
	for {
		select {
		case r := <-g.reqs:
			r.res <- enqueueRes{err: ErrClosed}
		default:
			return
		}
	}
}

// commit writes the batch in one transaction. If that fails, each request is
// retried alone, so one bad request cannot fail its neighbours and every
// caller learns its own outcome.
func (g *groupCommit) commit(batch []*enqueueReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.res <- enqueueRes{err: err} // nothing written for a caller who left
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	msgs := make([]Message, 0, len(live))
	for _, r := range live {
		if r.op == nil {
			msgs = append(msgs, Message{ID: newMessageID(), Peer: r.peer, Body: r.body, SentAt: r.sentAt})
		}
	}
	err := g.s.write(g.ctx, func(w *wtx) error {
		if len(msgs) > 0 {
			if _, err := w.insertMessages(Out, msgs); err != nil {
				return err
			}
		}
		for _, r := range live {
			if r.op != nil {
				if err := r.op(w); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		// The outbox tail must see commits in Seq order: this round's
		// Enqueues, then what its ops inserted or marked, in order.
		g.s.tail.added(msgs)
		for _, r := range live {
			if r.after != nil {
				r.after()
			}
		}
		i := 0
		for _, r := range live {
			if r.op != nil {
				r.res <- enqueueRes{}
				continue
			}
			r.res <- enqueueRes{msg: msgs[i]}
			i++
		}
		return
	}
	if g.ctx.Err() != nil {
		err = ErrClosed // stopped mid-round: nothing was committed
	}
	if len(live) == 1 || g.ctx.Err() != nil {
		for _, r := range live {
			r.res <- enqueueRes{err: err}
		}
		return
	}
	for _, r := range live {
		g.commit([]*enqueueReq{r})
	}
}

// Enqueue stores one outgoing message in state queued with a fresh ID (see
// newMessageID) and returns it once committed. Concurrent calls share transactions (group
// commit). Once the committer has taken the request, Enqueue waits for the
// outcome even if ctx ends, so that a nil error always means stored and an
// error means not stored.
func (s *Store) Enqueue(ctx context.Context, peer string, body []byte, sentAt time.Time) (Message, error) {
	if err := checkOutgoing(peer, body); err != nil {
		return Message{}, fmt.Errorf("enqueue for %q: %w", peer, err)
	}
	res := s.gc.submit(&enqueueReq{ctx: ctx, peer: peer, body: body, sentAt: sentAt})
	if res.err != nil {
		return Message{}, fmt.Errorf("enqueue for %q: %w", peer, res.err)
	}
	return res.msg, nil
}

// writeShared runs op in the committer's next transaction, shared with
// concurrent Enqueues and other shared writes, and returns once it has
// committed (or failed). Under load this turns a commit per call into a
// commit per round, which is what the sender's hot path needs: with
// commits costing a dozen write syscalls each, MarkSent and MarkDelivered
// in transactions of their own cost more than the messages themselves.
// after, if not nil, runs in the committer once the transaction has
// committed, before writeShared returns.
func (s *Store) writeShared(ctx context.Context, op func(w *wtx) error, after func()) error {
	return s.gc.submit(&enqueueReq{ctx: ctx, op: op, after: after}).err
}

// submit hands r to the committer and waits for its outcome. Once the
// committer has taken it, the outcome is awaited even if r.ctx ends, so a
// nil error always means committed and an error means not.
func (g *groupCommit) submit(r *enqueueReq) enqueueRes {
	r.res = make(chan enqueueRes, 1)
	select {
	case g.reqs <- r:
	case <-g.quit:
		return enqueueRes{err: ErrClosed}
	case <-r.ctx.Done():
		return enqueueRes{err: r.ctx.Err()}
	}
	select {
	case res := <-r.res:
		return res
	case <-g.stopped:
		// The committer may have answered just before exiting.
		select {
		case res := <-r.res:
			return res
		default:
			return enqueueRes{err: ErrClosed}
		}
	}
}

// Stats are counters for monitoring the store.
type Stats struct {
	EnqueueRequests int64 // Enqueue calls taken by the group committer
	EnqueueBatches  int64 // transactions they (and shared writes) were written in
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	return Stats{EnqueueRequests: s.gc.requests.Load(), EnqueueBatches: s.gc.batches.Load()}
}

// newMessageID returns a fresh message ID: 48 bits of Unix milliseconds
// followed by 80 bits from crypto/rand, the layout of a UUIDv7. The random
// part makes IDs unguessable and collision-free; the time prefix makes
// consecutive IDs sort together, so the unique index that de-duplicates
// messages grows at its end instead of touching a random page per message.
// That is several times faster per row than fully random IDs, and keeps
// being so once the index no longer fits in the cache. The time it reveals
// is no secret: SentAt travels with the message anyway.
func newMessageID() [16]byte {
	var id [16]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(id[:8], ms<<16)
	_, _ = rand.Read(id[6:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return id
}

// mapConstraint turns a uniqueness violation into ErrExists.
func mapConstraint(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
		se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("%w: %w", ErrExists, err)
	}
	return err
}
