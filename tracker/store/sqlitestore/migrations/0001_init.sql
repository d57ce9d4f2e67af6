-- One row per name. A deleted user leaves a tombstone (deleted = 1) that
-- keeps the name, key and seq, so a replayed old registration cannot bring
-- the record back; PurgeExpired removes it once expires has passed.
CREATE TABLE users (
    name       TEXT    NOT NULL PRIMARY KEY,
    public_key BLOB    NOT NULL,
    addrs      TEXT    NOT NULL, -- JSON array of "host:port" strings
    seq        INTEGER NOT NULL,
    expires    INTEGER NOT NULL, -- unix seconds
    signature  BLOB    NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) WITHOUT ROWID;

CREATE INDEX users_expires ON users (expires);
