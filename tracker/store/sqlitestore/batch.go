package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/p2pchat/p2pchat/internal/groupcommit"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/internal/rowstate"
)

// ErrClosed is returned by writes on a closed Store.
var ErrClosed = errors.New("sqlite store closed")

// maxBatch bounds how many writes share one transaction, so a long queue
// does not hold SQLite's write lock (and every caller in it) for long.
const maxBatch = 256

// writeReq is one Create, Update or Delete waiting for the committer.
type writeReq struct {
	op   string // for errors: "create", "update", "delete"
	name string
	rec  *store.Record // what a create or update writes, for the watchers
	stmt *sql.Stmt
	args []any
	key  []byte                   // create only: the key whose history explains a refusal
	why  func(rowstate.Row) error // explains a write that matched no row
}

type writeCall = groupcommit.Call[writeReq]

// Group commit: SQLite has one writer and a commit costs far more than a
// conditional UPDATE, so the committer (internal/groupcommit) runs every
// write waiting at the time in one transaction. Writers hand requests over
// directly (no queue); while one transaction commits, the next writers
// park on the hand-over, and the committer takes all of them at once.

// startCommitter starts the goroutine that Close stops.
func (s *Store) startCommitter() {
	s.committer = groupcommit.Start(groupcommit.Config[writeReq]{
		Max: maxBatch, Closed: ErrClosed, Commit: s.runBatch,
	})
}

// stopCommitter stops the committer and waits for it; later writes fail
// with ErrClosed. A no-op if it never started.
func (s *Store) stopCommitter() {
	if s.committer != nil {
		s.committer.Stop()
	}
}

// runBatch applies batch in order in one transaction and sets every
// request's outcome. A statement that fails with an error (not a write
// whose conditions did not hold) may have ended the whole transaction, so
// the batch restarts without it: one broken write never takes the others
// down. (chatd's store instead retries each write alone after a failed
// round: its round is one multi-row INSERT whose error names no row,
// where here each write is its own statement and the one that failed is
// known.)
//
// The round runs to its end even when Close cancels ctx: the callers in
// it were promised an answer that matches what the database holds, and a
// conditional write takes microseconds.
func (s *Store) runBatch(_ context.Context, batch []*writeCall) {
	// A cached copy must never outlive a write, whatever the outcome; the
	// answers go out only after, so a caller reads its own write through
	// any cache that watches the store. A commit by another process found
	// while the batch ran may be newer than the batch's records: then
	// they are not offered to keep.
	alls := s.watch.alls.Load()
	defer func() {
		fresh := s.watch.alls.Load() == alls
		for _, c := range batch {
			var rec *store.Record
			if c.Err == nil {
				rec = c.Req.rec
			}
			s.report(c.Req.name, rec, fresh)
		}
	}()
	live := append(make([]*writeCall, 0, len(batch)), batch...)
	for len(live) > 0 {
		failed, err := s.tryBatch(live)
		if failed < 0 {
			if err != nil { // nothing in live was written
				for _, c := range live {
					c.Err = err
				}
			}
			return
		}
		live[failed].Err = err
		live = append(live[:failed], live[failed+1:]...)
	}
}

// tryBatch runs live in one transaction, setting each request's Err to nil
// or the reason its conditions did not hold. If statement i fails it rolls
// back and returns (i, the error); otherwise it returns (-1, commit error).
func (s *Store) tryBatch(live []*writeCall) (int, error) {
	ctx := context.Background() // the batch outlives any one caller's ctx
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("begin group commit: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// Each statement is bound to the transaction once, not once a write.
	bound := make(map[*sql.Stmt]*sql.Stmt, 2)
	for i, c := range live {
		st := bound[c.Req.stmt]
		if st == nil {
			st = tx.StmtContext(ctx, c.Req.stmt)
			bound[c.Req.stmt] = st
		}
		if c.Err, err = s.apply(ctx, tx, st, &c.Req); err != nil {
			return i, err
		}
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("group commit of %d writes: %w", len(live), err)
	}
	return -1, nil
}

// apply runs one conditional write, r.stmt bound to tx as stmt. If it
// changes no row, it reads the row in the same transaction (holding the
// write lock, and after the batch's earlier writes) and returns why as the
// outcome; err is a failed statement.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, stmt *sql.Stmt, r *writeReq) (outcome, err error) {
	res, err := stmt.ExecContext(ctx, r.args...)
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
	if r.key != nil {
		if err := readHistory(ctx, tx.StmtContext(ctx, s.stmts.history), r.name, r.key, &row); err != nil {
			return nil, err
		}
	}
	if reason := r.why(row); reason != nil {
		return reason, nil
	}
	// Unreachable while the transaction holds the write lock; report it
	// rather than loop if the schema and conditions ever disagree.
	return rowstate.ErrContended, nil
}
