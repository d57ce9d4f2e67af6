-- The history needs a key's seq and expiry only once the key no longer
-- holds the name: while it does, the users row has them (a tombstone's
-- too), and Create checks that row as well (its ON CONFLICT clause). So an
-- update that keeps the key stops writing the history (an index upsert and
-- its expiry index per update); a key change (a rotation, or another key
-- taking a deleted name) records the outgoing key's last seq and expiry.
-- A purge removes a row and its key's history together, as before: the
-- history's expiry is at most the row's.
DROP TRIGGER users_key_history ON users;

CREATE TRIGGER users_key_history_insert AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_key_history();

CREATE FUNCTION users_key_history_outgoing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO key_history AS h (name, public_key, seq, expires)
    VALUES (OLD.name, OLD.public_key, OLD.seq, OLD.expires)
    ON CONFLICT (name, public_key) DO UPDATE SET
        seq = GREATEST(h.seq, EXCLUDED.seq), expires = GREATEST(h.expires, EXCLUDED.expires);
    RETURN NULL;
END
$$;

CREATE TRIGGER users_key_history_key_change AFTER UPDATE OF public_key ON users
    FOR EACH ROW WHEN (OLD.public_key IS DISTINCT FROM NEW.public_key)
    EXECUTE FUNCTION users_key_history_outgoing();
