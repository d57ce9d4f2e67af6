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
-- state is still queued or sent). AUTOINCREMENT so that a seq is never reused,
-- which keeps Pending cursors and History paging sound even if rows are ever
-- deleted.
CREATE TABLE messages (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        BLOB    NOT NULL CHECK (length(id) = 16),
    peer      TEXT    NOT NULL,
    dir       TEXT    NOT NULL CHECK (dir IN ('in', 'out')),
    body      BLOB    NOT NULL,
    sent_at   INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    state     TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'received'))
) STRICT;

-- Receiver de-duplication and ack lookups.
CREATE UNIQUE INDEX messages_peer_dir_id ON messages (peer, dir, id);
-- History paging per peer.
CREATE INDEX messages_peer_seq ON messages (peer, seq);
-- The outbox: small, so scans for pending work stay cheap however long the
-- history grows.
CREATE INDEX messages_outbox ON messages (peer, seq)
    WHERE dir = 'out' AND state IN ('queued', 'sent');

-- The append-only event log streamed by the control API. Only the single
-- writer connection inserts, so commit order equals id order and a reader
-- resuming after a cursor sees no gaps and no repeats.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    peer       TEXT    NOT NULL DEFAULT '',
    message_id BLOB    CHECK (message_id IS NULL OR length(message_id) = 16),
    data       BLOB
) STRICT;
