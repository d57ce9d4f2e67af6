-- One notification per statement instead of one per row: a batch's
-- updates go as one statement (pgstore's bulk update), and a pg_notify
-- per row cost PostgreSQL about 40% more per row. The payload becomes
-- "<instance> n <hex>,<hex>,..." (the listener reads one name or many),
-- split into several notifications before the 8000-byte payload limit.
DROP TRIGGER users_notify ON users;
DROP FUNCTION users_notify();

CREATE FUNCTION users_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who     text := coalesce(current_setting('p2pchat.instance', true), '');
    chan    text := 'p2pchat_users_' || substr(md5(TG_TABLE_SCHEMA), 1, 16);
    payload text := '';
    h       text;
BEGIN
    FOR h IN SELECT DISTINCT encode(name, 'hex') FROM changed LOOP
        IF payload <> '' AND length(payload) + length(h) > 7000 THEN
            PERFORM pg_notify(chan, who || ' n ' || payload);
            payload := '';
        END IF;
        payload := CASE WHEN payload = '' THEN h ELSE payload || ',' || h END;
    END LOOP;
    IF payload <> '' THEN
        PERFORM pg_notify(chan, who || ' n ' || payload);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION users_notify_changed();
CREATE TRIGGER users_notify_update AFTER UPDATE ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION users_notify_changed();
CREATE TRIGGER users_notify_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION users_notify_changed();
