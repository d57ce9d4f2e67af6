package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/internal/rowstate"
)

const (
	createSQL = `INSERT INTO users AS u (name, public_key, addrs, seq, expires, signature, deleted)
		SELECT $1, $2, $3, $4::bigint, $5::bigint, $6, FALSE
		WHERE NOT EXISTS (SELECT 1 FROM key_history h WHERE h.name = $1 AND h.public_key = $2 AND h.seq >= $4)
		ON CONFLICT (name) DO UPDATE SET
			public_key = EXCLUDED.public_key, addrs = EXCLUDED.addrs, seq = EXCLUDED.seq,
			expires = EXCLUDED.expires, signature = EXCLUDED.signature, deleted = FALSE
		WHERE u.deleted AND (u.public_key <> EXCLUDED.public_key OR u.seq < EXCLUDED.seq)`
	updateSQL = `UPDATE users SET public_key = $2, addrs = $3, seq = $4, expires = $5, signature = $6
		WHERE name = $1 AND NOT deleted AND public_key = $7 AND seq < $4`
	deleteSQL = `UPDATE users SET deleted = TRUE, seq = $3, addrs = '[]', signature = ''::bytea
		WHERE name = $1 AND NOT deleted AND public_key = $2 AND seq < $3`
	purgeSQL        = `DELETE FROM users WHERE expires < $1 RETURNING name`
	purgeHistorySQL = `DELETE FROM key_history WHERE expires < $1`
	stateSQL        = `SELECT deleted, public_key, seq FROM users WHERE name = $1`
	historySQL      = `SELECT seq FROM key_history WHERE name = $1 AND public_key = $2`
	getSQL          = `SELECT public_key, addrs, seq, expires, signature FROM users WHERE name = $1 AND NOT deleted`
	countSQL        = `SELECT count(*) FROM users WHERE NOT deleted`
	scanSQL         = `SELECT name, public_key, addrs, seq, expires, signature FROM users
		WHERE name > $1 AND NOT deleted ORDER BY name LIMIT $2`
)

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, rec store.Record) error {
	args, seq, err := recordArgs(rec)
	if err != nil {
		return fmt.Errorf("create %q: %w", rec.Name, err)
	}
	return s.write(ctx, writeReq{op: "create", name: rec.Name, rec: &rec, query: createSQL, args: args,
		why: func(ctx context.Context, row rowstate.Row) error {
			if err := s.readHistory(ctx, rec.Name, rec.PublicKey, &row); err != nil {
				return err
			}
			return rowstate.WhyCreateFailed(row, rec.PublicKey, seq)
		}})
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, rec store.Record, signerKey []byte) error {
	args, seq, err := recordArgs(rec)
	if err != nil {
		return fmt.Errorf("update %q: %w", rec.Name, err)
	}
	args = append(args, nonNil(signerKey))
	return s.write(ctx, writeReq{op: "update", name: rec.Name, rec: &rec, query: updateSQL, args: args,
		why: func(_ context.Context, row rowstate.Row) error { return rowstate.WhyWriteFailed(row, signerKey, seq) }})
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, name string, signerKey []byte, seq uint64) error {
	sseq, err := rowstate.Seq(seq)
	if err != nil {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	args := []any{[]byte(name), nonNil(signerKey), sseq}
	return s.write(ctx, writeReq{op: "delete", name: name, query: deleteSQL, args: args,
		why: func(_ context.Context, row rowstate.Row) error { return rowstate.WhyWriteFailed(row, signerKey, sseq) }})
}

func (s *Store) readState(ctx context.Context, name string) (rowstate.Row, error) {
	row := rowstate.Row{Found: true}
	err := s.pool.QueryRow(ctx, stateSQL, []byte(name)).Scan(&row.Deleted, &row.PublicKey, &row.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return rowstate.Row{}, nil
	}
	if err != nil {
		return rowstate.Row{}, fmt.Errorf("read state: %w", err)
	}
	return row, nil
}

// readHistory adds to row the highest seq key ever had under name.
func (s *Store) readHistory(ctx context.Context, name string, key []byte, row *rowstate.Row) error {
	err := s.pool.QueryRow(ctx, historySQL, []byte(name), nonNil(key)).Scan(&row.KeySeq)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := s.pool.QueryRow(ctx, getSQL, []byte(name)).Scan(&c.PublicKey, &c.Addrs, &c.Seq, &c.Expires, &c.Signature)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, fmt.Errorf("get %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("get %q: %w", name, err)
	}
	return c.Record(name)
}

// Count implements store.Store.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, countSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// Scan implements store.Scanner.
func (s *Store) Scan(ctx context.Context, after string, limit int) ([]store.Record, error) {
	rows, err := s.pool.Query(ctx, scanSQL, []byte(after), limit)
	if err != nil {
		return nil, fmt.Errorf("scan after %q: %w", after, err)
	}
	defer rows.Close()
	var recs []store.Record
	for rows.Next() {
		var name []byte
		var c rowstate.Columns
		if err := rows.Scan(&name, &c.PublicKey, &c.Addrs, &c.Seq, &c.Expires, &c.Signature); err != nil {
			return nil, fmt.Errorf("scan after %q: %w", after, err)
		}
		rec, err := c.Record(string(name))
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

// PurgeExpired implements store.Store.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purge(ctx, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("purge expired before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	if n > 0 {
		s.log.Debug("purged expired records", zap.Int64("count", n))
	}
	return n, nil
}

// purge deletes the expired records, then the expired key history, and
// reports each deleted name to the watchers once the deletion committed
// (or failed, when it might have).
func (s *Store) purge(ctx context.Context, before int64) (int64, error) {
	var names []string
	defer func() {
		for _, name := range names {
			s.invalidate(name)
		}
	}()
	rows, err := s.pool.Query(ctx, purgeSQL, before)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var name []byte
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		names = append(names, string(name))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	_, err = s.pool.Exec(ctx, purgeHistorySQL, before)
	return int64(len(names)), err
}

// recordArgs returns the SQL arguments $1..$6 for rec and its seq as stored.
func recordArgs(rec store.Record) ([]any, int64, error) {
	seq, err := rowstate.Seq(rec.Seq)
	if err != nil {
		return nil, 0, err
	}
	addrs, err := rowstate.EncodeAddrs(rec.Addrs)
	if err != nil {
		return nil, 0, err
	}
	return []any{[]byte(rec.Name), nonNil(rec.PublicKey), addrs, seq, rec.Expires.Unix(), nonNil(rec.Signature)}, seq, nil
}

// nonNil maps nil to an empty bytea: pgx sends a nil slice as NULL, which
// the NOT NULL columns refuse.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
