-- Every key a name has ever had, with the highest seq and the latest
-- expiry of any row that held it (the tombstone's deletion seq included).
-- A Create is refused while its key has a history row at or above its seq,
-- so after register K1 -> rotate to K2 -> delete, K1's old signed
-- registrations cannot bring the name back: the tombstone in users names
-- only the last key. PurgeExpired drops a row once every record signed by
-- that key has expired, and so can no longer be accepted anyway.
CREATE TABLE key_history (
    name       TEXT    NOT NULL,
    public_key BLOB    NOT NULL,
    seq        INTEGER NOT NULL,
    expires    INTEGER NOT NULL, -- unix seconds
    PRIMARY KEY (name, public_key)
) WITHOUT ROWID;

CREATE INDEX key_history_expires ON key_history (expires);

-- Triggers keep the history in the same transaction as every write, so no
-- code path (or second process on the file) can forget it.
CREATE TRIGGER users_key_history_insert AFTER INSERT ON users BEGIN
    INSERT INTO key_history (name, public_key, seq, expires)
    VALUES (NEW.name, NEW.public_key, NEW.seq, NEW.expires)
    ON CONFLICT (name, public_key) DO UPDATE SET
        seq = max(seq, excluded.seq), expires = max(expires, excluded.expires);
END;

CREATE TRIGGER users_key_history_update AFTER UPDATE ON users BEGIN
    INSERT INTO key_history (name, public_key, seq, expires)
    VALUES (NEW.name, NEW.public_key, NEW.seq, NEW.expires)
    ON CONFLICT (name, public_key) DO UPDATE SET
        seq = max(seq, excluded.seq), expires = max(expires, excluded.expires);
END;

INSERT INTO key_history (name, public_key, seq, expires)
    SELECT name, public_key, seq, expires FROM users WHERE true
    ON CONFLICT (name, public_key) DO NOTHING;
