-- Every change to users is announced on a channel of this schema, so that
-- every tracker process on the database can drop the record from its
-- lookup cache (pgstore's listener). The payload is the writing process's
-- instance (the p2pchat.instance setting that a tracker's connections
-- carry; empty for anyone else, whom every tracker then hears), " n ", and
-- the name in hex: names are bytes, payloads text. A process skips its own
-- announcements: it reports its own writes before they return.
--
-- The channel is 'p2pchat_users_' and 16 hex digits of the schema name's
-- MD5: short, ASCII, and the same for every process whose search_path
-- finds this table.
CREATE FUNCTION users_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who  text := coalesce(current_setting('p2pchat.instance', true), '');
    chan text := 'p2pchat_users_' || substr(md5(TG_TABLE_SCHEMA), 1, 16);
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify(chan, who || ' n ' || encode(OLD.name, 'hex'));
    ELSE
        PERFORM pg_notify(chan, who || ' n ' || encode(NEW.name, 'hex'));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_notify();
