-- Contacts pinned on first use. The key is never updated in place: a key
-- change is refused by the code, and accepting a new key means removing the
-- pin first (history survives because messages do not reference contacts).
CREATE TABLE contacts (
    name       TEXT    NOT NULL PRIMARY KEY,
    public_key BLOB    NOT NULL CHECK (length(public_key) = 32),
    verified   INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
    added_at   INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Both directions of every conversation, and the outbox (outgoing rows whose
-- state is still queued or sent). seq is the rowid, assigned as max+1; since
-- messages are never deleted it only grows, which Pending cursors and History
-- paging rely on. (A migration that adds deletion must keep the newest row or
-- switch to AUTOINCREMENT; plain rowids are used because AUTOINCREMENT costs
-- an extra write per row on the hottest path.)
CREATE TABLE messages (
    seq       INTEGER PRIMARY KEY,
    id        BLOB    NOT NULL CHECK (length(id) = 16),
    peer      TEXT    NOT NULL,
    dir       TEXT    NOT NULL CHECK (dir IN ('in', 'out')),
    body      BLOB    NOT NULL,
    sent_at   INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    state     TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'received')),
    -- When the peer's acknowledgement was recorded, 0 until then.
    delivered_at INTEGER NOT NULL DEFAULT 0,
    CHECK ((state = 'delivered') = (delivered_at <> 0))
) STRICT;

-- Receiver de-duplication and ack lookups.
CREATE UNIQUE INDEX messages_peer_dir_id ON messages (peer, dir, id);
-- History paging per peer.
CREATE INDEX messages_peer_seq ON messages (peer, seq);
-- The outbox: small, so scans for pending work stay cheap however long the
-- history grows. Its condition is on delivered_at rather than state so that
-- queued → sent, which changes only state, does not have to touch it.
CREATE INDEX messages_outbox ON messages (peer, seq)
    WHERE dir = 'out' AND delivered_at = 0;

-- The append-only event log streamed by the control API. Only the single
-- writer connection inserts, so commit order equals id order and a reader
-- resuming after a cursor sees no gaps and no repeats. ids are rowids
-- (max+1); pruning always keeps the newest event, so they never go back.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    peer       TEXT    NOT NULL DEFAULT '',
    message_id BLOB    CHECK (message_id IS NULL OR length(message_id) = 16),
    data       BLOB
) STRICT;

-- The events that describe message state changes are written by triggers, so
-- they are in the same statement, hence the same transaction, as the change
-- itself and can never get out of step with it. It also saves a round trip
-- per message on the hottest paths. ON CONFLICT DO NOTHING inserts fire no
-- trigger, so a duplicate delivery is not evented; an acknowledgement is
-- evented only on the transition to delivered.
CREATE TRIGGER messages_received_event AFTER INSERT ON messages
    WHEN NEW.dir = 'in'
BEGIN
    INSERT INTO events (at, type, peer, message_id)
        VALUES (NEW.stored_at, 'message', NEW.peer, NEW.id);
END;

CREATE TRIGGER messages_delivered_event AFTER UPDATE OF state ON messages
    WHEN NEW.state = 'delivered' AND OLD.state <> 'delivered'
BEGIN
    INSERT INTO events (at, type, peer, message_id)
        VALUES (NEW.delivered_at, 'delivered', NEW.peer, NEW.id);
END;
