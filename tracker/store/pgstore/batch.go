package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/groupcommit"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/internal/rowstate"
)

// Group commit. Each commit waits for PostgreSQL to flush its WAL, which
// costs more than the conditional statement in it, and each statement
// sent alone costs a round trip. So the committer (internal/groupcommit)
// takes every write waiting at the time and sends them as one pipelined
// batch, which PostgreSQL runs as one implicit transaction: one round
// trip, one flush. While a batch is out, the next writers queue up.
//
// A write whose statement changed no row is explained afterwards exactly
// as a lone write is (settle: read the row, say why, or try again if the
// row changed so that it would now succeed). A batch that fails as a whole
// (a broken statement, a lost connection, a deadlock) has committed
// nothing, and each of its writes is retried alone, so one bad write never
// takes the others down.

// maxBatch bounds how many writes share one transaction, and so how long
// the row locks of a batch are held.
const maxBatch = 256

// batchTimeout bounds one batch, which outlives its callers' contexts
// (they were promised an answer that matches the database).
const batchTimeout = 30 * time.Second

// writeReq is one Create, Update or Delete waiting for the committer.
type writeReq struct {
	op    string // for errors: "create", "update", "delete"
	name  string
	rec   *store.Record // what a create or update writes, for the watchers
	query string
	args  []any
	// why explains a write that changed no row, given the row as read
	// after it; nil means it would succeed now.
	why func(ctx context.Context, row rowstate.Row) error
}

type writeCall = groupcommit.Call[writeReq]

func (s *Store) startCommitter() {
	s.committer = groupcommit.Start(groupcommit.Config[writeReq]{
		Max: maxBatch, Closed: ErrClosed, Commit: s.runBatch,
	})
}

// write runs one request through the committer.
func (s *Store) write(ctx context.Context, r writeReq) error {
	if _, err := s.committer.Do(ctx, r); err != nil {
		return fmt.Errorf("%s %q: %w", r.op, r.name, err)
	}
	return nil
}

// runBatch runs batch in one pipelined transaction and sets each call's
// outcome. The statements go in name order, keeping their order within
// a name: batches of several processes then take row locks in the same
// order and cannot deadlock, and writes that are in flight together have
// no order of their own to keep.
func (s *Store) runBatch(ctx context.Context, batch []*writeCall) {
	// A cached copy must never outlive a write, whatever the outcome; the
	// answers go out only after. Another process's write heard while the
	// batch was in flight may be newer than the batch's records: then
	// they are not offered to keep.
	heard := s.watch.heard.Load()
	var calls []*writeCall
	defer func() {
		fresh := s.watch.heard.Load() == heard
		for _, c := range calls { // in the order they were written
			var rec *store.Record
			if c.Err == nil {
				rec = c.Req.rec
			}
			s.report(c.Req.name, rec, fresh)
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	calls = slices.Clone(batch)
	slices.SortStableFunc(calls, func(a, b *writeCall) int { return bytes.Compare([]byte(a.Req.name), []byte(b.Req.name)) })
	applied, err := s.sendBatch(ctx, calls)
	if err != nil {
		if len(calls) > 1 {
			s.log.Debug("group commit failed; writing one by one", zap.Int("writes", len(calls)), zap.Error(err))
		}
		for _, c := range calls {
			c.Err = s.writeAlone(ctx, &c.Req)
		}
		return
	}
	for i, c := range calls {
		c.Err = s.settle(ctx, &c.Req, applied[i])
	}
}

// bulkUpdateSQL is every plain update of a batch in one statement: each
// statement in a pipeline costs PostgreSQL about as much again as the row
// it changes. It returns the names it updated; the conditions are
// updateSQL's.
const bulkUpdateSQL = `UPDATE users AS u
	SET public_key = v.public_key, addrs = v.addrs, seq = v.seq, expires = v.expires, signature = v.signature
	FROM unnest($1::bytea[], $2::bytea[], $3::text[], $4::bigint[], $5::bigint[], $6::bytea[], $7::bytea[])
		AS v(name, public_key, addrs, seq, expires, signature, signer)
	WHERE u.name = v.name AND NOT u.deleted AND u.public_key = v.signer AND u.seq < v.seq
	RETURNING u.name`

// sendBatch sends calls as one implicit transaction and reports which
// statements changed their row. The updates of names written only once in
// the batch go as one bulkUpdateSQL (two updates of one name in one
// statement would see the same old row); the other writes each as its own
// statement. An error means nothing was committed (or, for a connection
// lost at the commit, that nobody can tell).
func (s *Store) sendBatch(ctx context.Context, calls []*writeCall) ([]bool, error) {
	count := make(map[string]int, len(calls))
	for _, c := range calls {
		count[c.Req.name]++
	}
	var bulk, single []int
	for i, c := range calls {
		if c.Req.query == updateSQL && count[c.Req.name] == 1 {
			bulk = append(bulk, i)
		} else {
			single = append(single, i)
		}
	}
	if len(bulk) < 2 {
		single, bulk = append(single, bulk...), nil
		slices.Sort(single)
	}
	b := &pgx.Batch{}
	if bulk != nil {
		b.Queue(bulkUpdateSQL, bulkArgs(calls, bulk)...)
	}
	for _, i := range single {
		b.Queue(calls[i].Req.query, calls[i].Req.args...)
	}
	br := s.pool.SendBatch(ctx, b)
	applied := make([]bool, len(calls))
	err := func() error {
		if bulk != nil {
			updated, err := scanNames(br)
			if err != nil {
				return err
			}
			for _, i := range bulk {
				applied[i] = updated[calls[i].Req.name]
			}
		}
		for _, i := range single {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			applied[i] = tag.RowsAffected() == 1
		}
		return nil
	}()
	if err != nil {
		br.Close()
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("group commit of %d writes: %w", len(calls), err)
	}
	return applied, nil
}

// bulkArgs turns the updates calls[i], i in idx, into bulkUpdateSQL's
// arrays. Their args are updateSQL's, $1 to $7.
func bulkArgs(calls []*writeCall, idx []int) []any {
	cols := [7][]any{}
	for _, i := range idx {
		for j, a := range calls[i].Req.args {
			cols[j] = append(cols[j], a)
		}
	}
	out := make([]any, len(cols))
	out[0], out[1] = typed[[]byte](cols[0]), typed[[]byte](cols[1])
	out[2], out[3], out[4] = typed[string](cols[2]), typed[int64](cols[3]), typed[int64](cols[4])
	out[5], out[6] = typed[[]byte](cols[5]), typed[[]byte](cols[6])
	return out
}

func typed[T any](col []any) []T {
	out := make([]T, len(col))
	for i, v := range col {
		out[i] = v.(T)
	}
	return out
}

// scanNames reads the names a RETURNING name statement returned.
func scanNames(br pgx.BatchResults) (map[string]bool, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var name []byte
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names[string(name)] = true
	}
	return names, rows.Err()
}

// writeAlone runs r's statement by itself and settles it.
func (s *Store) writeAlone(ctx context.Context, r *writeReq) error {
	tag, err := s.pool.Exec(ctx, r.query, r.args...)
	if err != nil {
		return err
	}
	return s.settle(ctx, r, tag.RowsAffected() == 1)
}

// settle finishes a write whose statement ran: nil if it changed its row;
// otherwise it reads the row and returns why, or, if the row changed
// meanwhile so that the write would now succeed, runs it again. Each error
// thus describes a state the row was really in, which keeps the operation
// atomic without holding a transaction open across round trips.
func (s *Store) settle(ctx context.Context, r *writeReq, applied bool) error {
	for attempt := 1; !applied; attempt++ {
		row, err := s.readState(ctx, r.name)
		if err != nil {
			return err
		}
		if reason := r.why(ctx, row); reason != nil {
			return reason
		}
		if attempt >= rowstate.MaxAttempts {
			return rowstate.ErrContended
		}
		s.log.Debug("conditional write raced another writer; retrying", zap.String("op", r.op))
		tag, err := s.pool.Exec(ctx, r.query, r.args...)
		if err != nil {
			return err
		}
		applied = tag.RowsAffected() == 1
	}
	return nil
}
