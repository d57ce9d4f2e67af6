package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/p2pchat/p2pchat/internal/groupcommit"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// maxGroup bounds one group commit, so a flood of callers cannot make a
// single transaction (and everyone's latency) grow without limit.
const maxGroup = 512

// enqueueReq is one caller's Enqueue (peer set), another small write (op),
// or both in one transaction (EnqueueFirst), waiting
// for the committer (internal/groupcommit), which coalesces concurrent
// writes: under load the cost of a commit is shared by many messages, and
// when idle a lone request is committed at once.
type enqueueReq struct {
	peer   string
	body   []byte
	sentAt time.Time
	// op, when set, is a write other than an Enqueue (MarkSent,
	// MarkDelivered, a first message's pin) that rides in the same
	// transaction as the round's Enqueues instead of paying for a commit
	// of its own. An Enqueue's own op runs before the round's messages
	// are inserted, other ops after them. It may run more
	// than once (alone, after a failed round), so it must only assign to
	// what it reports.
	op    func(w *wtx) error
	after func() // optional, with op: runs once op's transaction has committed, before its events are published
	// lazy, with op: op's write needs no sync (see writeTx). A round is
	// synced unless all of its requests are lazy.
	lazy bool

	msg Message // the result of an Enqueue
}

type groupCommit struct {
	*groupcommit.Committer[enqueueReq]
	s        *Store
	requests atomic.Int64 // Enqueues taken by the committer
	batches  atomic.Int64 // rounds: the transactions requests were grouped into
}

func startGroupCommit(s *Store) *groupCommit {
	g := &groupCommit{s: s}
	// A queue as long as a round: callers rarely block on the hand-over,
	// and a test can see how many wait (Queued).
	g.Committer = groupcommit.Start(groupcommit.Config[enqueueReq]{
		Max: maxGroup, Queue: maxGroup, Closed: ErrClosed, Commit: g.round,
	})
	return g
}

func (g *groupCommit) round(ctx context.Context, batch []*groupcommit.Call[enqueueReq]) {
	n := 0
	for _, c := range batch {
		if c.Req.peer != "" {
			n++
		}
	}
	g.requests.Add(int64(n))
	g.batches.Add(1)
	g.commit(ctx, batch)
}

// commit writes the batch in one transaction. If that fails, each request is
// retried alone, so one bad request cannot fail its neighbours and every
// caller learns its own outcome. (The tracker's store instead reruns the
// batch without the one write that failed: its writes are single
// statements that fail one by one, where here an Enqueue round is one
// multi-row INSERT whose error does not say which message caused it.)
func (g *groupCommit) commit(ctx context.Context, live []*groupcommit.Call[enqueueReq]) {
	msgs := make([]Message, 0, len(live))
	durable := false
	for _, c := range live {
		r := &c.Req
		if r.peer != "" {
			msgs = append(msgs, Message{ID: newMessageID(), Peer: r.peer, Body: r.body, SentAt: r.sentAt})
		}
		durable = durable || !r.lazy
	}
	err := g.s.writeTx(ctx, durable, func(w *wtx) error {
		// The outbox tail must see commits in Seq order (this round's
		// Enqueues, then what its ops inserted or marked, in order), and
		// before the round's events wake anyone: a reader woken by a
		// "delivered" event must not find the message still pending.
		w.committed = func() {
			g.s.tail.added(msgs)
			for _, c := range live {
				if c.Req.op != nil && c.Req.after != nil {
					c.Req.after()
				}
			}
		}
		// EnqueueFirst's pin runs before the messages are inserted: what
		// it moves into the history (the request it accepts) comes before
		// the message that accepts it. MarkSent and MarkDelivered follow.
		if err := runOps(w, live, true); err != nil {
			return err
		}
		if len(msgs) > 0 {
			if _, err := w.insertMessages(Out, msgs); err != nil {
				return err
			}
		}
		return runOps(w, live, false)
	})
	if err == nil {
		i := 0
		for _, c := range live {
			if c.Req.peer != "" {
				c.Req.msg = msgs[i]
				i++
			}
		}
		return
	}
	if ctx.Err() != nil {
		err = ErrClosed // stopped mid-round: nothing was committed
	}
	if len(live) == 1 || ctx.Err() != nil {
		for _, c := range live {
			c.Err = err
		}
		return
	}
	for _, c := range live {
		if c.Err = c.Ctx.Err(); c.Err == nil { // nothing written for a caller who left
			g.commit(ctx, []*groupcommit.Call[enqueueReq]{c})
		}
	}
}

// runOps runs, in order, the ops of the requests that are (withEnqueue)
// or are not also an Enqueue.
func runOps(w *wtx, live []*groupcommit.Call[enqueueReq], withEnqueue bool) error {
	for _, c := range live {
		if c.Req.op != nil && (c.Req.peer != "") == withEnqueue {
			if err := c.Req.op(w); err != nil {
				return err
			}
		}
	}
	return nil
}

// Enqueue stores one outgoing message in state queued with a fresh ID (see
// newMessageID) and returns it once committed. Concurrent calls share
// transactions (group commit). Once the committer has taken the request,
// Enqueue waits for the outcome even if ctx ends, so that a nil error
// always means stored and an error means not stored.
func (s *Store) Enqueue(ctx context.Context, peer string, body []byte, sentAt time.Time) (Message, error) {
	if err := checkOutgoing(peer, body); err != nil {
		return Message{}, fmt.Errorf("enqueue for %q: %w", peer, err)
	}
	r, err := s.gc.Do(ctx, enqueueReq{peer: peer, body: body, sentAt: sentAt})
	if err != nil {
		return Message{}, fmt.Errorf("enqueue for %q: %w", peer, err)
	}
	return r.msg, nil
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
	_, err := s.gc.Do(ctx, enqueueReq{op: op, after: after})
	return err
}

// Stats are counters for monitoring the store.
type Stats struct {
	EnqueueRequests int64 // Enqueue calls taken by the group committer
	EnqueueBatches  int64 // transactions they (and shared writes) were written in
	Commits         int64 // write transactions committed
	SyncedCommits   int64 // those of them synced (each one fdatasync of the WAL)
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	return Stats{EnqueueRequests: s.gc.requests.Load(), EnqueueBatches: s.gc.batches.Load(),
		Commits: s.commits.Load(), SyncedCommits: s.syncedCommits.Load()}
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
