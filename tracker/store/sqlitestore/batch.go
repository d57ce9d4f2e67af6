package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/p2pchat/p2pchat/tracker/store/internal/rowstate"
)

// ErrClosed is returned by writes on a closed Store.
var ErrClosed = errors.New("sqlite store closed")

// maxBatch bounds how many writes share one transaction, so a long queue
// does not hold SQLite's write lock (and every caller in it) for long.
const maxBatch = 256

// writeReq is one Create, Update or Delete waiting for the committer.
type writeReq struct {
	ctx  context.Context
	op   string // for errors: "create", "update", "delete"
	name string
	stmt *sql.Stmt
	args []any
	why  func(rowstate.Row) error // explains a write that matched no row
	done chan error               // buffered 1: the committer never blocks on it

	err error // the outcome within the current attempt
}

func newReq(ctx context.Context, op, name string, stmt *sql.Stmt, args []any, why func(rowstate.Row) error) *writeReq {
	return &writeReq{ctx: ctx, op: op, name: name, stmt: stmt, args: args, why: why, done: make(chan error, 1)}
}

// Group commit: SQLite has one writer and a commit costs far more than a
// conditional UPDATE, so the committer goroutine runs every write waiting
// at the time in one transaction. Writers hand requests over an unbuffered
// channel; while one transaction commits, the next writers park on the
// channel, and the committer takes all of them at once.

// startCommitter starts the goroutine that Close stops.
func (s *Store) startCommitter() {
	s.reqs = make(chan *writeReq)
	s.quit = make(chan struct{})
	s.committerDone = make(chan struct{})
	go s.commitLoop()
}

// stopCommitter stops the committer and waits for it; later writes fail
// with ErrClosed. A no-op if it never started.
func (s *Store) stopCommitter() {
	if s.quit == nil {
		return
	}
	close(s.quit)
	<-s.committerDone
}

// submit queues one write and waits for its outcome. A request the
// committer has taken is always answered, so waiting ignores ctx: giving
// up then would report failure for a write that may still commit.
func (s *Store) submit(r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	select {
	case s.reqs <- r:
	case <-s.quit:
		return ErrClosed
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	return <-r.done
}

func (s *Store) commitLoop() {
	defer close(s.committerDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.quit:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.runBatch(batch)
		clear(batch) // drop references to answered requests
	}
}

// runBatch applies batch in order in one transaction and answers every
// request. A statement that fails with an error (not a write whose
// conditions did not hold) may have ended the whole transaction, so the
// batch restarts without it: one broken write never takes the others down.
func (s *Store) runBatch(batch []*writeReq) {
	// A cached copy must never outlive a write, whatever the outcome; the
	// answers go out only after, so a caller reads its own write.
	defer func() {
		for _, r := range batch {
			s.cache.Invalidate(r.name)
			r.done <- r.err
		}
	}()
	live := make([]*writeReq, 0, len(batch))
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err == nil {
			live = append(live, r)
		}
	}
	for len(live) > 0 {
		failed, err := s.tryBatch(live)
		if failed < 0 {
			if err != nil { // nothing in live was written
				for _, r := range live {
					r.err = err
				}
			}
			return
		}
		live[failed].err = err
		live = append(live[:failed], live[failed+1:]...)
	}
}

// tryBatch runs live in one transaction, setting each request's err to nil
// or the reason its conditions did not hold. If statement i fails it rolls
// back and returns (i, the error); otherwise it returns (-1, commit error).
func (s *Store) tryBatch(live []*writeReq) (int, error) {
	ctx := context.Background() // the batch outlives any one caller's ctx
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("begin group commit: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for i, r := range live {
		if r.err, err = s.apply(ctx, tx, r); err != nil {
			return i, err
		}
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("group commit of %d writes: %w", len(live), err)
	}
	return -1, nil
}

// apply runs one conditional write. If it changes no row, it reads the row
// in the same transaction (holding the write lock, and after the batch's
// earlier writes) and returns why as the outcome; err is a failed statement.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, r *writeReq) (outcome, err error) {
	res, err := tx.StmtContext(ctx, r.stmt).ExecContext(ctx, r.args...)
	if err != nil {
		return nil, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return nil, err
	}
	row, err := readState(ctx, tx.StmtContext(ctx, s.stmts.state), r.name)
	if err != nil {
		return nil, err
	}
	if reason := r.why(row); reason != nil {
		return reason, nil
	}
	// Unreachable while the transaction holds the write lock; report it
	// rather than loop if the schema and conditions ever disagree.
	return rowstate.ErrContended, nil
}
