// Package api holds the wire types of chatd's control API, the HTTP/1.1 +
// JSON protocol that chatctl (and any other local client) speaks to the
// user's own daemon over a Unix socket. Both sides import it; it imports
// only the standard library, so it stays a leaf.
//
// # Routes
//
//	GET    /v1/status                          Status
//	POST   /v1/send                            SendRequest → Message (state "queued")
//	GET    /v1/messages/{peer}/{id}            Message (for polling a message's state)
//	GET    /v1/history/{peer}?limit=&before=   []Message, oldest first
//	GET    /v1/contacts                        []Contact
//	POST   /v1/contacts                        AddContactRequest → Contact
//	DELETE /v1/contacts/{name}                 204 No Content
//	POST   /v1/contacts/{name}/verify          VerifyRequest → Contact
//	GET    /v1/events?after=CURSOR             newline-delimited stream of Event
//
// Use the helpers (HistoryPath, ContactPath, ...) rather than building paths
// by hand: they escape names.
//
// # Errors
//
// Every non-2xx response carries an Error as its JSON body. Error.Code is
// what callers branch on; compare with errors.Is against the sentinels
// (ErrUnknownUser, ErrNotFound, ...), which match on the code alone:
//
//	if errors.Is(err, api.ErrUnknownUser) { ... }
//
// # Event stream
//
// GET /v1/events?after=N streams every committed event whose ID is greater
// than N, in ascending ID order, one JSON object per line, and then keeps
// the response open and writes new events as they are committed. A client
// that loses the stream reconnects with after set to the last ID it saw and
// gets no gaps and no repeats. Status.EventCursor is the newest event ID at
// the time of the call: a client that wants only what happens from now on
// (say, the receipt of a message it is about to send) reads it first.
//
// While nothing happens the server writes a heartbeat line
// ({"type":"heartbeat"}) every HeartbeatInterval so that a client can tell a
// quiet daemon from a dead one (HeartbeatSilence without a line). DecodeEventLine tells heartbeats apart.
package api
