package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Write conditions live in the WHERE clauses, so each write is one
// statement; ops.go reads the row only to explain a write that matched
// nothing.
const (
	createSQL = `INSERT INTO users (name, public_key, addrs, seq, expires, signature, deleted)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, 0
		WHERE NOT EXISTS (SELECT 1 FROM key_history h WHERE h.name = ?1 AND h.public_key = ?2 AND h.seq >= ?4)
		ON CONFLICT (name) DO UPDATE SET
			public_key = excluded.public_key, addrs = excluded.addrs, seq = excluded.seq,
			expires = excluded.expires, signature = excluded.signature, deleted = 0
		WHERE users.deleted = 1
			AND (users.public_key <> excluded.public_key OR users.seq < excluded.seq)`
	updateSQL = `UPDATE users SET public_key = ?2, addrs = ?3, seq = ?4, expires = ?5, signature = ?6
		WHERE name = ?1 AND deleted = 0 AND public_key = ?7 AND seq < ?4`
	deleteSQL = `UPDATE users SET deleted = 1, seq = ?3, addrs = '[]', signature = X''
		WHERE name = ?1 AND deleted = 0 AND public_key = ?2 AND seq < ?3`
	purgeSQL        = `DELETE FROM users WHERE expires < ?1 RETURNING name`
	purgeHistorySQL = `DELETE FROM key_history WHERE expires < ?1`
	stateSQL        = `SELECT deleted, public_key, seq FROM users WHERE name = ?1`
	historySQL      = `SELECT seq FROM key_history WHERE name = ?1 AND public_key = ?2`
	getSQL          = `SELECT public_key, addrs, seq, expires, signature FROM users WHERE name = ?1 AND deleted = 0`
	countSQL        = `SELECT count(*) FROM users WHERE deleted = 0`
	scanSQL         = `SELECT name, public_key, addrs, seq, expires, signature FROM users
		WHERE name > ?1 AND deleted = 0 ORDER BY name LIMIT ?2`
)

// statements are prepared once; database/sql re-prepares them lazily on
// each pooled connection.
type statements struct {
	create, update, del, purge, purgeHistory, state, history *sql.Stmt // writer
	get, count, scan                                         *sql.Stmt // reader
}

func (st *statements) prepare(ctx context.Context, writer, reader *sql.DB) error {
	for _, p := range []struct {
		db    *sql.DB
		query string
		dst   **sql.Stmt
	}{
		{writer, createSQL, &st.create},
		{writer, updateSQL, &st.update},
		{writer, deleteSQL, &st.del},
		{writer, purgeSQL, &st.purge},
		{writer, stateSQL, &st.state},
		{writer, purgeHistorySQL, &st.purgeHistory},
		{writer, historySQL, &st.history},
		{reader, getSQL, &st.get},
		{reader, countSQL, &st.count},
		{reader, scanSQL, &st.scan},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = stmt
	}
	return nil
}

func (st *statements) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.create, st.update, st.del, st.purge, st.purgeHistory, st.state, st.history, st.get, st.count, st.scan} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
