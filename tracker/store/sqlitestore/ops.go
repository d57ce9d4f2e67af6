package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/internal/rowstate"
)

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, rec store.Record) error {
	r, err := s.createReq(rec)
	if err != nil {
		return err
	}
	return s.write(ctx, r)
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, rec store.Record, signerKey []byte) error {
	r, err := s.updateReq(rec, signerKey)
	if err != nil {
		return err
	}
	return s.write(ctx, r)
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, name string, signerKey []byte, seq uint64) error {
	r, err := s.deleteReq(name, signerKey, seq)
	if err != nil {
		return err
	}
	return s.write(ctx, r)
}

// write runs one request through the committer (see batch.go).
func (s *Store) write(ctx context.Context, r writeReq) error {
	if _, err := s.committer.Do(ctx, r); err != nil {
		return fmt.Errorf("%s %q: %w", r.op, r.name, err)
	}
	return nil
}

// The request builders check the arguments and turn them into one
// conditional statement, with how to explain it matching no row.

func (s *Store) createReq(rec store.Record) (writeReq, error) {
	args, seq, err := recordArgs(rec)
	if err != nil {
		return writeReq{}, fmt.Errorf("create %q: %w", rec.Name, err)
	}
	why := func(row rowstate.Row) error { return rowstate.WhyCreateFailed(row, rec.PublicKey, seq) }
	return writeReq{op: "create", name: rec.Name, rec: &rec, stmt: s.stmts.create, args: args, key: nonNil(rec.PublicKey), why: why}, nil
}

func (s *Store) updateReq(rec store.Record, signerKey []byte) (writeReq, error) {
	args, seq, err := recordArgs(rec)
	if err != nil {
		return writeReq{}, fmt.Errorf("update %q: %w", rec.Name, err)
	}
	args = append(args, nonNil(signerKey))
	why := func(row rowstate.Row) error { return rowstate.WhyWriteFailed(row, signerKey, seq) }
	return writeReq{op: "update", name: rec.Name, rec: &rec, stmt: s.stmts.update, args: args, why: why}, nil
}

func (s *Store) deleteReq(name string, signerKey []byte, seq uint64) (writeReq, error) {
	sseq, err := rowstate.Seq(seq)
	if err != nil {
		return writeReq{}, fmt.Errorf("delete %q: %w", name, err)
	}
	args := []any{name, nonNil(signerKey), sseq}
	why := func(row rowstate.Row) error { return rowstate.WhyWriteFailed(row, signerKey, sseq) }
	return writeReq{op: "delete", name: name, stmt: s.stmts.del, args: args, why: why}, nil
}

func readState(ctx context.Context, stmt *sql.Stmt, name string) (rowstate.Row, error) {
	row := rowstate.Row{Found: true}
	err := stmt.QueryRowContext(ctx, name).Scan(&row.Deleted, &row.PublicKey, &row.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return rowstate.Row{}, nil
	}
	if err != nil {
		return rowstate.Row{}, fmt.Errorf("read state: %w", err)
	}
	return row, nil
}

// readHistory adds to row the highest seq key ever had under name.
func readHistory(ctx context.Context, stmt *sql.Stmt, name string, key []byte, row *rowstate.Row) error {
	err := stmt.QueryRowContext(ctx, name, key).Scan(&row.KeySeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read key history: %w", err)
	}
	row.KeySeen = true
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (store.Record, error) {
	var c rowstate.Columns
	err := s.stmts.get.QueryRowContext(ctx, name).Scan(&c.PublicKey, &c.Addrs, &c.Seq, &c.Expires, &c.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, fmt.Errorf("get %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("get %q: %w", name, err)
	}
	return c.Record(name)
}

// Scan implements store.Scanner.
func (s *Store) Scan(ctx context.Context, after string, limit int) ([]store.Record, error) {
	rows, err := s.stmts.scan.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("scan after %q: %w", after, err)
	}
	defer rows.Close()
	var recs []store.Record
	for rows.Next() {
		var name string
		var c rowstate.Columns
		if err := rows.Scan(&name, &c.PublicKey, &c.Addrs, &c.Seq, &c.Expires, &c.Signature); err != nil {
			return nil, fmt.Errorf("scan after %q: %w", after, err)
		}
		rec, err := c.Record(name)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan after %q: %w", after, err)
	}
	return recs, nil
}

// Count implements store.Store.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.stmts.count.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// PurgeExpired implements store.Store.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time) (int64, error) {
	names, err := s.purge(ctx, before.Unix())
	for _, name := range names {
		s.invalidate(name)
	}
	if err != nil {
		return 0, fmt.Errorf("purge expired before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	if len(names) > 0 {
		s.log.Debug("purged expired records", zap.Int("count", len(names)))
	}
	return int64(len(names)), nil
}

// purge deletes in an IMMEDIATE transaction rather than autocommit, so that
// a second process on the file makes it wait instead of failing with
// SQLITE_BUSY_SNAPSHOT. It returns the names it deleted (even on a failed
// commit, which may have deleted them after all), for the watchers.
func (s *Store) purge(ctx context.Context, before int64) ([]string, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.StmtContext(ctx, s.stmts.purge).QueryContext(ctx, before)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if _, err := tx.StmtContext(ctx, s.stmts.purgeHistory).ExecContext(ctx, before); err != nil {
		return nil, err
	}
	return names, tx.Commit()
}

// recordArgs returns the SQL arguments ?1..?6 for rec and its seq as stored.
func recordArgs(rec store.Record) ([]any, int64, error) {
	seq, err := rowstate.Seq(rec.Seq)
	if err != nil {
		return nil, 0, err
	}
	addrs, err := rowstate.EncodeAddrs(rec.Addrs)
	if err != nil {
		return nil, 0, err
	}
	return []any{rec.Name, nonNil(rec.PublicKey), addrs, seq, rec.Expires.Unix(), nonNil(rec.Signature)}, seq, nil
}

// nonNil maps nil to an empty blob: the driver binds a nil slice as NULL,
// which the NOT NULL columns refuse.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
