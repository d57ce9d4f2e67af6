// Package relay is the client side of p2pchat's relay of last resort, and
// the home of its protocol.
//
// Two daemons behind NATs that cannot reach each other talk through a
// relay (chat-relay, package relay/server). The daemon that cannot be
// dialled holds a reservation there and publishes the relay's address in
// its signed tracker record; a caller asks the relay for that key and gets
// a byte stream to it. chatd's own TLS 1.3 session then runs end to end
// inside that stream, so the relay sees only ciphertext, cannot alter or
// read messages, and a relay that joins the caller to someone else fails
// the caller's pinned-key check. Every connection to the relay is itself
// TLS 1.3, the relay proving the key of its address: the path between a
// daemon and the relay sees neither who reserves nor whom a caller asks
// for.
//
//	a, _ := relay.ParseAddr("relay://relay.example.org:7072/iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w")
//
//	// The daemon that cannot be dialled:
//	res, err := relay.Reserve(ctx, a, id.Private, dial)
//	for {
//		conn, in, err := res.Accept(ctx) // in.From: the caller's address, as the relay saw it
//		if errors.Is(err, relay.ErrClosed) { break } // see res.Err(); reserve again with backoff
//		...                                           // other errors concern one caller only
//		go servePeer(conn)                            // the usual preamble + TLS, as on a direct connection
//	}
//
//	// A caller:
//	conn, err := relay.Connect(ctx, a, bobKey, dial) // ErrNoReservation, ErrJoinTimeout, ErrLimit
//
// # Addresses
//
// A relay address is "relay://HOST:PORT/KEY", KEY being the relay's
// Ed25519 public key in unpadded base64url (43 characters). It may stand
// among a record's addresses (tracker/record accepts it; ParseRelayAddr
// there is the one parser). Several relays run side by side, each with
// its own key; a reservation lives on one and the record says which.
//
// # Wire protocol
//
// Every connection to a relay starts with TLS 1.3 (ALPN "p2pchat-relay/2",
// no resumption: a ticket would link a client's connections). The relay's
// certificate is made from its Ed25519 key the way chatd makes its own
// (internal/tlsident), and the client checks that key against the address
// before it sends anything of its own: a relay with another key fails
// with ErrWrongRelayKey. A reserving client proves its key with its
// identity certificate, which TLS 1.3 encrypts; callers and joining
// targets send no certificate, so the relay does not learn who calls.
// Inside TLS, everything before the relayed stream is frames of at most
// 516 bytes:
//
//	version u8 (=2) || type u8 || length u16-BE || payload
//
// A reservation (control connection), C the daemon and R the relay:
//
//	C→R  reserve    (empty: C's certificate says whose reservation)
//	R→C  reserved   keepalive interval ms (u32)
//	     or error "auth" (no certificate) / "limit reservations_per_source"
//	then:  C→R ping every interval, R→C pong; either side that hears
//	       nothing for 3 intervals drops the connection.
//	R→C  incoming   token (16) || caller's observed "ip:port"
//	R→C  error "replaced", when a newer reservation for the key takes over
//
// A connection (caller A, target B):
//
//	A→R  connect    target key (32)
//	R→B  incoming   on B's control connection
//	B→R  accept     token (16), on a new connection
//	R→A, R→B  ok    (empty: A learns nothing B did not publish)
//	then R copies bytes from one TLS connection to the other until both
//	sides have closed; a half-close (close_notify) is passed on.
//
// So the path sees TLS handshakes with the relay's address, and the sizes
// and timing of records: not the key a reservation is for, not the key a
// caller asks for, not the token or the caller's address the relay passes
// on (relay/server's TestWireShowsNoIdentity records all of it and looks).
// The relay itself learns the key of each reservation and of each
// connect, which it needs to join them. Clients write records of at most
// 4 KiB, which keeps the relay's TLS read buffers small.
//
// Version 1 sent its frames in the clear and proved keys with a signed
// challenge. A version-1 client gets one frame it can read, a version-1
// error "version this relay speaks protocol 2 (TLS): upgrade chatd",
// which it logs as a refusal; the relay counts it
// (relay_refusals_total{reason="old_version"}) and logs one line a
// minute. A client at a version-1 relay fails with ErrOldRelay.
//
// Refusals are an error frame, "code[ detail]": no_reservation, timeout
// (the target did not accept within the join timeout), limit (the detail
// names the limit), unknown_token (an accept too late or forged), auth,
// bad_request. A connection that has not finished its TLS handshake and
// sent a complete first frame within the handshake deadline is closed.
//
// # Limits
//
// The relay bounds everything a client can make it hold: one reservation
// per key (the newest wins), reservations per source IP, sessions (waiting
// or joined) per target key, per caller IP and in all, the join timeout,
// an idle timeout for joined sessions, the handshake deadline, and
// optional per-session and global bandwidth caps. See relay/server.Config
// and configs/relay.toml for the defaults.
package relay
