-- Every key a name has ever had, with the highest seq and the latest
-- expiry of any row that held it (the tombstone's deletion seq included).
-- A Create is refused while its key has a history row at or above its seq,
-- so after register K1 -> rotate to K2 -> delete, K1's old signed
-- registrations cannot bring the name back: the tombstone in users names
-- only the last key. PurgeExpired drops a row once every record signed by
-- that key has expired, and so can no longer be accepted anyway.
CREATE TABLE key_history (
    name       BYTEA  NOT NULL,
    public_key BYTEA  NOT NULL,
    seq        BIGINT NOT NULL,
    expires    BIGINT NOT NULL, -- unix seconds
    PRIMARY KEY (name, public_key)
);

CREATE INDEX key_history_expires ON key_history (expires);

-- The trigger keeps the history in the same transaction as every write, so
-- no code path (or other tracker process) can forget it.
CREATE FUNCTION users_key_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO key_history AS h (name, public_key, seq, expires)
    VALUES (NEW.name, NEW.public_key, NEW.seq, NEW.expires)
    ON CONFLICT (name, public_key) DO UPDATE SET
        seq = GREATEST(h.seq, EXCLUDED.seq), expires = GREATEST(h.expires, EXCLUDED.expires);
    RETURN NULL;
END
$$;

CREATE TRIGGER users_key_history AFTER INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_key_history();

INSERT INTO key_history (name, public_key, seq, expires)
    SELECT name, public_key, seq, expires FROM users
    ON CONFLICT (name, public_key) DO NOTHING;
