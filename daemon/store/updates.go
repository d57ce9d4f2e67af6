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
	var total int64
	args := make([]any, 0, len(lead)+chunkSizes[0])
	for done := 0; done < len(ids); {
		n := chunkFor(len(ids) - done)
		args = append(args[:0], lead...)
		for i := range ids[done : done+n] {
			args = append(args, ids[done+i][:])
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
