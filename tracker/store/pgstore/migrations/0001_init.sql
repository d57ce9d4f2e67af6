-- One row per name. A deleted user leaves a tombstone (deleted) that keeps
-- the name, key and seq, so a replayed old registration cannot bring the
-- record back; PurgeExpired removes it once expires has passed.
--
-- name is BYTEA, not TEXT: PostgreSQL text refuses NUL and invalid UTF-8,
-- and the store must hold whatever name the server lets through.
CREATE TABLE users (
    name       BYTEA   NOT NULL PRIMARY KEY,
    public_key BYTEA   NOT NULL,
    addrs      TEXT    NOT NULL, -- JSON array of "host:port" strings
    seq        BIGINT  NOT NULL,
    expires    BIGINT  NOT NULL, -- unix seconds
    signature  BYTEA   NOT NULL,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX users_expires ON users (expires);
