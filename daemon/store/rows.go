package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// chunkSizes are the row counts of the prepared multi-row INSERT statements,
// largest first. One statement per row costs a driver round trip per row;
// 64 rows per statement halves the cost of a large batch, and the smaller
// sizes keep the remainder of a batch cheap without preparing every size.
var chunkSizes = []int{64, 16, 4, 1}

// insertStmts holds the multi-row INSERTs for one direction, by row count.
type insertStmts map[int]*sql.Stmt

// insertSQL builds the INSERT for n rows. Seqs are given explicitly (see
// wtx.nextSeq); incoming duplicates are skipped by ON CONFLICT, which also
// keeps the messages_received_event trigger from firing for them.
func insertSQL(dir Direction, n int) string {
	state, conflict := Queued, ""
	if dir == In {
		state, conflict = Received, " ON CONFLICT (peer, dir, id) DO NOTHING"
	}
	row := fmt.Sprintf("(?, ?, ?, '%s', ?, ?, ?, '%s')", dir, state)
	return "INSERT INTO messages (seq, id, peer, dir, body, sent_at, stored_at, state) VALUES " +
		strings.TrimSuffix(strings.Repeat(row+",", n), ",") + conflict
}

func prepareInserts(ctx context.Context, db *sql.DB, dir Direction) (insertStmts, error) {
	is := insertStmts{}
	for _, n := range chunkSizes {
		st, err := db.PrepareContext(ctx, insertSQL(dir, n))
		if err != nil {
			return is, fmt.Errorf("prepare %s insert of %d rows: %w", dir, n, err)
		}
		is[n] = st
	}
	return is, nil
}

func (is insertStmts) close() error { return closeAll(is) }

func closeAll[M ~map[int]*sql.Stmt](stmts M) error {
	var errs []error
	for _, st := range stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// nextSeq returns the seq for the next row. The single writer reads the
// largest seq once per transaction and counts up from it, so the Seqs of a
// multi-row insert are known without asking SQLite row by row.
func (w *wtx) nextSeq() (int64, error) {
	if w.seq == 0 {
		var max int64
		if err := w.stmt(w.s.stmts.maxSeq).QueryRowContext(w.ctx).Scan(&max); err != nil {
			return 0, fmt.Errorf("read last seq: %w", err)
		}
		w.seq = max
	}
	w.seq++
	return w.seq, nil
}

// insertMessages writes msgs (each with Peer, ID, Body and SentAt set) in
// direction dir, filling in Seq, Direction, StoredAt and State. For incoming
// messages a row whose (peer, ID) is already stored is skipped; the result
// says which rows were inserted.
func (w *wtx) insertMessages(dir Direction, msgs []Message) ([]bool, error) {
	stmts := w.s.stmts.insertOut
	if dir == In {
		stmts = w.s.stmts.insertIn
	}
	inserted := make([]bool, len(msgs))
	args := make([]any, 0, chunkSizes[0]*6)
	for done := 0; done < len(msgs); {
		n := chunkFor(len(msgs) - done)
		chunk := msgs[done : done+n]
		args = args[:0]
		for i := range chunk {
			m := &chunk[i]
			seq, err := w.nextSeq()
			if err != nil {
				return nil, err
			}
			m.Seq, m.Direction, m.StoredAt = seq, dir, w.now
			m.State = map[Direction]State{In: Received, Out: Queued}[dir]
			args = append(args, seq, m.ID[:], m.Peer, notNull(m.Body), unixNano(m.SentAt), unixNano(w.now))
		}
		res, err := w.stmt(stmts[n]).ExecContext(w.ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("insert: %w", mapConstraint(err))
		}
		if err := w.markInserted(res, chunk, inserted[done:done+n]); err != nil {
			return nil, err
		}
		done += n
	}
	return inserted, nil
}

func chunkFor(remaining int) int {
	for _, n := range chunkSizes {
		if n <= remaining {
			return n
		}
	}
	return 1
}

// markInserted finds which rows of a chunk were inserted. Usually all were,
// which RowsAffected proves at no cost; otherwise the seqs that exist now
// are exactly the rows this statement inserted.
func (w *wtx) markInserted(res sql.Result, chunk []Message, inserted []bool) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if int(n) == len(chunk) {
		for i := range inserted {
			inserted[i] = true
		}
		return nil
	}
	rows, err := w.tx.QueryContext(w.ctx, `SELECT seq FROM messages WHERE seq BETWEEN ? AND ?`,
		chunk[0].Seq, chunk[len(chunk)-1].Seq)
	if err != nil {
		return fmt.Errorf("find inserted rows: %w", err)
	}
	defer rows.Close()
	first := chunk[0].Seq
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return fmt.Errorf("find inserted rows: %w", err)
		}
		inserted[seq-first] = true
	}
	return rows.Err()
}

// notNull makes an empty body bind as an empty BLOB: a nil slice binds as
// NULL, which the schema rightly refuses.
func notNull(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
