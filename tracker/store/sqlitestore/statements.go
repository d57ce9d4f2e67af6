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
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)
		ON CONFLICT (name) DO UPDATE SET
			public_key = excluded.public_key, addrs = excluded.addrs, seq = excluded.seq,
			expires = excluded.expires, signature = excluded.signature, deleted = 0
		WHERE users.deleted = 1
			AND (users.public_key <> excluded.public_key OR users.seq < excluded.seq)`
	updateSQL = `UPDATE users SET public_key = ?2, addrs = ?3, seq = ?4, expires = ?5, signature = ?6
		WHERE name = ?1 AND deleted = 0 AND public_key = ?7 AND seq < ?4`
	deleteSQL = `UPDATE users SET deleted = 1, seq = ?3, addrs = '[]', signature = X''
		WHERE name = ?1 AND deleted = 0 AND public_key = ?2 AND seq < ?3`
	purgeSQL = `DELETE FROM users WHERE expires < ?1`
	stateSQL = `SELECT deleted, public_key, seq FROM users WHERE name = ?1`
	getSQL   = `SELECT public_key, addrs, seq, expires, signature FROM users WHERE name = ?1 AND deleted = 0`
	countSQL = `SELECT count(*) FROM users WHERE deleted = 0`
)

// statements are prepared once; database/sql re-prepares them lazily on
// each pooled connection.
type statements struct {
	create, update, del, purge, state *sql.Stmt // writer
	get, count                        *sql.Stmt // reader
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
		{reader, getSQL, &st.get},
		{reader, countSQL, &st.count},
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
	for _, s := range []*sql.Stmt{st.create, st.update, st.del, st.purge, st.state, st.get, st.count} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
