package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// idStmts holds one UPDATE by message ID list, prepared for each of
// chunkSizes, so a batch of acknowledgements costs a few statements rather
// than one per message.
type idStmts map[int]*sql.Stmt

// The UPDATEs take (peer, ids...) after any leading arguments. The state
// conditions make both idempotent and keep states from moving backwards.
const (
	markSentSQL = `UPDATE messages SET state = 'sent'
		WHERE peer = ? AND dir = 'out' AND state = 'queued' AND id IN (%s)`
	markDeliveredSQL = `UPDATE messages SET state = 'delivered', delivered_at = ?
		WHERE peer = ? AND dir = 'out' AND state <> 'delivered' AND id IN (%s)`
	// markDeliveredSeqSQL is markDeliveredSQL for messages whose Seq is
	// known: the rows are found by the table's key, not an index.
	markDeliveredSeqSQL = `UPDATE messages SET state = 'delivered', delivered_at = ?
		WHERE peer = ? AND dir = 'out' AND state <> 'delivered' AND seq IN (%s)`
)

func prepareIDStmts(ctx context.Context, db *sql.DB, query string) (idStmts, error) {
	is := idStmts{}
	for _, n := range chunkSizes {
		st, err := db.PrepareContext(ctx, fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat("?,", n), ",")))
		if err != nil {
			return is, err
		}
		is[n] = st
	}
	return is, nil
}

// execByIDs runs the statement over ids in chunks, each with lead and peer
// before the chunk's IDs, and returns the number of rows changed.
func (w *wtx) execByIDs(stmts idStmts, lead []any, ids [][16]byte) (int64, error) {
	return execChunks(w, stmts, lead, len(ids), func(i int) any { return ids[i][:] })
}

// execBySeqs is execByIDs for a statement over Seqs.
func (w *wtx) execBySeqs(stmts idStmts, lead []any, seqs []int64) (int64, error) {
	return execChunks(w, stmts, lead, len(seqs), func(i int) any { return seqs[i] })
}

func execChunks(w *wtx, stmts idStmts, lead []any, count int, key func(int) any) (int64, error) {
	var total int64
	args := make([]any, 0, len(lead)+chunkSizes[0])
	for done := 0; done < count; {
		n := chunkFor(count - done)
		args = append(args[:0], lead...)
		for i := range n {
			args = append(args, key(done+i))
		}
		res, err := w.stmt(stmts[n]).ExecContext(w.ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("update: %w", err)
		}
		changed, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("update: %w", err)
		}
		total += changed
		done += n
	}
	return total, nil
}
