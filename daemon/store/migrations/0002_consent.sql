-- Consent: messages from peers who are not contacts are requests, kept
-- apart from the history (and from the events attach shows) until the user
-- accepts them, and bounded in count and size by the caller's limits.
CREATE TABLE requests (
    name       TEXT    NOT NULL PRIMARY KEY,
    -- The key the sender proved in the handshake, checked against its
    -- tracker record; accepting pins it.
    public_key BLOB    NOT NULL CHECK (length(public_key) = 32),
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    -- Messages dropped (oldest first) to keep the request within bounds.
    dropped    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX requests_last_at ON requests (last_at);
CREATE INDEX requests_public_key ON requests (public_key);

-- A request's messages, in arrival order (seq). A resend of a stored ID is
-- dropped, as it is in messages.
CREATE TABLE request_messages (
    seq       INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL,
    id        BLOB    NOT NULL CHECK (length(id) = 16),
    body      BLOB    NOT NULL,
    sent_at   INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX request_messages_name_id ON request_messages (name, id);
CREATE INDEX request_messages_name_seq ON request_messages (name, seq);

-- Blocked keys: refused at the handshake, before any tracker lookup,
-- whatever name they claim. name is the one the user blocked, for display.
CREATE TABLE blocked (
    public_key BLOB    NOT NULL PRIMARY KEY CHECK (length(public_key) = 32),
    name       TEXT    NOT NULL,
    blocked_at INTEGER NOT NULL
) STRICT;
