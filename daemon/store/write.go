package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDiskFull: a write failed because the database could not grow (SQLite's
// SQLITE_FULL: the file system holding it has no space left). Nothing of
// the failed transaction was stored. It matches syscall.ENOSPC too, so
// that callers that know nothing of SQLite (the control server) can say
// what happened.
var ErrDiskFull = fmt.Errorf("disk is full: %w", syscall.ENOSPC)

// diskFull marks SQLite's "database or disk is full" with ErrDiskFull.
func diskFull(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// writeStmts are prepared once on the writer connection and bound into each
// transaction, so the hot paths never re-parse SQL.
type writeStmts struct {
	insertOut        insertStmts
	insertIn         insertStmts
	maxSeq           *sql.Stmt
	markSent         idStmts
	markDelivered    idStmts
	markDeliveredSeq idStmts
	insertEvent      *sql.Stmt
	lastEvent        *sql.Stmt
	contactKey       *sql.Stmt
	isBlocked        *sql.Stmt
}

func prepareWriteStmts(ctx context.Context, db *sql.DB) (*writeStmts, error) {
	ws := &writeStmts{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&ws.maxSeq, `SELECT COALESCE(max(seq), 0) FROM messages`},
		{&ws.insertEvent, `INSERT INTO events (at, type, peer, message_id, data) VALUES (?, ?, ?, ?, ?)`},
		{&ws.lastEvent, `SELECT COALESCE(max(id), 0) FROM events`},
		{&ws.contactKey, `SELECT public_key FROM contacts WHERE name = ?`},
		{&ws.isBlocked, `SELECT 1 FROM blocked WHERE public_key = ?`},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			ws.close()
			return nil, fmt.Errorf("prepare statements: %w", err)
		}
		*p.dst = st
	}
	var err error
	if ws.insertOut, err = prepareInserts(ctx, db, Out); err != nil {
		ws.close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	if ws.insertIn, err = prepareInserts(ctx, db, In); err != nil {
		ws.close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	if ws.markSent, err = prepareIDStmts(ctx, db, markSentSQL); err != nil {
		ws.close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	if ws.markDelivered, err = prepareIDStmts(ctx, db, markDeliveredSQL); err != nil {
		ws.close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	if ws.markDeliveredSeq, err = prepareIDStmts(ctx, db, markDeliveredSeqSQL); err != nil {
		ws.close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	return ws, nil
}

func (ws *writeStmts) close() error {
	errs := []error{ws.insertOut.close(), ws.insertIn.close(), closeAll(ws.markSent), closeAll(ws.markDelivered), closeAll(ws.markDeliveredSeq)}
	for _, st := range []*sql.Stmt{ws.maxSeq, ws.insertEvent, ws.lastEvent, ws.contactKey, ws.isBlocked} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// wtx is one write transaction. It remembers the newest event it appended so
// that readers are woken only after the commit made the event visible.
type wtx struct {
	tx *sql.Tx
	// ctx is for the statements of the transaction. It carries the caller's
	// values but not its cancellation: the transaction itself is bound to
	// the caller's context (database/sql rolls it back when that ends), and
	// a cancellable context on every statement would cost the driver a
	// watcher goroutine per row.
	ctx       context.Context
	s         *Store
	now       time.Time // the transaction's timestamp (StoredAt, event At)
	lastEvent int64
	seq       int64 // the last seq assigned in this transaction, 0 before the first
	// committed runs once the transaction has committed (and synced),
	// before its events are published: in-memory state that must agree
	// with what a woken reader finds (the outbox tail).
	committed func()
}

// write runs fn in a transaction on the writer connection and returns only
// after the commit is on stable storage. Any error from fn rolls
// everything back.
func (s *Store) write(ctx context.Context, fn func(w *wtx) error) error {
	return s.writeTx(ctx, true, fn)
}

// writeTx is write; a transaction that is not durable commits without
// syncing the WAL (synchronous=NORMAL for it alone): it survives a crash
// of chatd, and a power loss may take it, unless a durable commit follows
// (the WAL is one file, synced up to its end). Only writes whose loss
// costs nothing but a repeated step may be made so: no event, no message,
// no pin.
func (s *Store) writeTx(ctx context.Context, durable bool, fn func(w *wtx) error) error {
	if s.closed() {
		return ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.synced != durable {
		mode := map[bool]string{true: "FULL", false: "NORMAL"}[durable]
		if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
			return fmt.Errorf("synchronous %s: %w", mode, err)
		}
		s.synced = durable
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", diskFull(err))
	}
	w := &wtx{tx: tx, ctx: context.WithoutCancel(ctx), s: s, now: s.now()}
	if err := fn(w); err != nil {
		_ = tx.Rollback() // the error from fn is the one worth reporting
		return diskFull(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", diskFull(err))
	}
	s.commits.Add(1)
	if durable {
		s.syncedCommits.Add(1)
	}
	s.ckpt.committed()
	if w.committed != nil {
		w.committed()
	}
	if w.lastEvent > 0 {
		s.feed.publish(w.lastEvent)
	}
	s.ckpt.boundSizeLocked()
	return nil
}

func (w *wtx) stmt(st *sql.Stmt) *sql.Stmt { return w.tx.StmtContext(w.ctx, st) }

// appendEvent inserts e and sets its ID (and At, if zero).
func (w *wtx) appendEvent(e *Event) error {
	if e.At.IsZero() {
		e.At = w.now
	}
	var mid, data any
	if e.MessageID != ([16]byte{}) {
		mid = e.MessageID[:]
	}
	if len(e.Data) > 0 {
		data = []byte(e.Data)
	}
	res, err := w.stmt(w.s.stmts.insertEvent).ExecContext(w.ctx, unixNano(e.At), e.Type, e.Peer, mid, data)
	if err != nil {
		return fmt.Errorf("append %s event: %w", e.Type, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("append %s event: %w", e.Type, err)
	}
	e.ID = id
	w.lastEvent = id
	return nil
}

// noteEvents records that statements of this transaction (through the
// triggers) appended events, so that readers are woken after the commit.
func (w *wtx) noteEvents() error {
	var id int64
	if err := w.stmt(w.s.stmts.lastEvent).QueryRowContext(w.ctx).Scan(&id); err != nil {
		return fmt.Errorf("read last event id: %w", err)
	}
	w.lastEvent = id
	return nil
}
