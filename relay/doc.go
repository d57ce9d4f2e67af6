// Package relay is the client side of p2pchat's relay of last resort, and
// the home of its protocol.
//
// Two daemons behind NATs that cannot reach each other talk through a
// relay (chat-relay, package relay/server). The daemon that cannot be
// dialled holds a reservation there and publishes the relay's address in
// its signed tracker record; a caller asks the relay for that key and gets
// a plain byte stream to it. chatd's own TLS 1.3 session then runs end to
// end inside that stream, so the relay sees only ciphertext, cannot alter
// or read messages, and a relay that joins the caller to someone else
// fails the caller's pinned-key check. The relay authenticates itself to
// reserving daemons only so that a daemon knows its reservation is held
// where its record says.
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
// Everything before the splice is frames of at most 516 bytes:
//
//	version u8 (=1) || type u8 || length u16-BE || payload
//
// A reservation (control connection), C the daemon and R the relay:
//
//	C→R  reserve
//	R→C  challenge  relay key (32) || relay nonce Nr (32)
//	     C checks the relay key against the address: ErrWrongRelayKey
//	C→R  auth       client key (32) || client nonce Nc (32) || sig_C(T("client"))
//	R→C  reserved   sig_R(T("relay")) || keepalive interval ms (u32)
//	     or error "auth" / "limit reservations_per_source"
//	T(role) = "p2pchat relay reservation v1\x00" || role || 0 || relay key || client key || Nr || Nc
//	then:  C→R ping every interval, R→C pong; either side that hears
//	       nothing for 3 intervals drops the connection.
//	R→C  incoming   token (16) || caller's observed "ip:port"
//	R→C  error "replaced", when a newer reservation for the key takes over
//
// Each side signs its own role, so neither signature can be reflected as
// the other's. A connection (caller A, target B):
//
//	A→R  connect    target key (32)
//	R→B  incoming   on B's control connection
//	B→R  accept     token (16), on a new connection
//	R→A, R→B  ok    (empty: A learns nothing B did not publish)
//	then R copies bytes both ways until both sides have closed; a
//	half-close is passed on.
//
// Refusals are an error frame, "code[ detail]": no_reservation, timeout
// (the target did not accept within the join timeout), limit (the detail
// names the limit), unknown_token (an accept too late or forged), auth,
// bad_request. A connection that sends no complete first frame within
// the handshake deadline is closed.
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
