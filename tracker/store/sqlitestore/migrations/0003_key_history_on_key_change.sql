-- The history needs a key's seq and expiry only once the key no longer
-- holds the name: while it does, the users row has them (a tombstone's
-- too), and Create checks that row as well (its ON CONFLICT clause). So an
-- update that keeps the key stops writing the history, which was two of
-- the four B-tree pages each update wrote (key_history and its expiry
-- index); a key change (a rotation, or another key taking a deleted name)
-- records the outgoing key's last seq and expiry. A purge removes a row
-- and its key's history together, as before: the history's expiry is at
-- most the row's.
DROP TRIGGER users_key_history_update;

CREATE TRIGGER users_key_history_key_change AFTER UPDATE OF public_key ON users
    WHEN OLD.public_key <> NEW.public_key BEGIN
    INSERT INTO key_history (name, public_key, seq, expires)
    VALUES (OLD.name, OLD.public_key, OLD.seq, OLD.expires)
    ON CONFLICT (name, public_key) DO UPDATE SET
        seq = max(seq, excluded.seq), expires = max(expires, excluded.expires);
END;
