// Package peer runs chatd's sessions with other users' daemons: one
// authenticated, encrypted TCP connection per contact, over which chat
// messages flow both ways, each acknowledged once the receiver has stored
// it.
//
// The lead piece is the Manager. It listens on one port and dials from the
// same port (SO_REUSEPORT), so a NAT that preserves ports lets a TCP
// simultaneous open succeed. The daemon supplies three small interfaces:
// a Resolver (which key and addresses a contact has), an Authorizer (may
// this name/key pair connect; pins on first use) and a Handler (the store:
// deliver, outbox, sent, acked, presence).
//
//	m, err := peer.NewManager(peer.Config{Identity: id, Name: "alice",
//		ListenAddr: ":7946", Resolver: r, Authorizer: a, Handler: h, Log: log})
//	go m.Run(ctx)
//	...
//	store.Enqueue("bob", msg) // then:
//	m.Notify("bob")           // the session sends it, or one is dialled
//
// # Connection setup
//
// Accepted and dialled connections are treated alike:
//
//  1. Both sides send the preamble: "P2PCHAT2" and a random 32-byte
//     tie-break nonce, nothing that names anyone (see preamble.go). The
//     larger nonce runs the TLS client, whoever dialled: after a TCP
//     simultaneous open both sides did. Equal nonces (a connection that
//     echoes us) close; a dialler tries again after its backoff. The old
//     preamble "P2PCHAT1", which carried the public key in the clear, is
//     refused with one Info line (ErrOldPreamble).
//  2. TLS 1.3 (nothing older), both sides presenting the certificate of
//     their identity key. TLS 1.3 encrypts certificates, so a passive
//     observer learns neither key; the peer's key is what its
//     certificate proves. A dialled peer whose key is not the one the
//     Resolver gave is refused there; as the TLS client we refuse it
//     before our own certificate goes out. Our own key is refused
//     (ErrSelf). TLS 1.3's ECDHE gives forward secrecy. (Someone who
//     connects to us can still read our certificate, as the tracker
//     publishes our key anyway; what is hidden is who talks to whom.)
//  3. Both send a Hello (protocol versions, user name); the highest common
//     version is used. A dialled peer must give the name we dialled; an
//     accepted one is known from its certificate and its Hello.
//  4. The Authorizer accepts the claimed name with the proven key, or the
//     session is refused with a Bye. Key mismatches are logged as errors
//     and reported to a Handler that implements RefusalReporter.
//
// # Sessions
//
// One session per contact. When two come up at once (both sides dialled
// over different connections), both ends keep the one whose TLS-exported
// connection ID is larger and close the other with a Bye, so both keep
// the same one.
//
// The sender walks the outbox with a cursor that starts at 0 on every
// connection: Pending → write → Flush → Sent → advance. So order is kept,
// nothing is sent twice on one connection, and everything unacknowledged
// is resent after a reconnect. The receiver hands every batch of messages
// that arrived together (up to 256) to Handler.Deliver and acknowledges
// them all, duplicates included, in one Ack once Deliver returns nil; if
// Deliver fails the session closes without acking and the sender retries
// later. The receiver de-duplicates by ID, so each message is shown once.
//
// A peer we have not heard from for KeepAlive gets a Ping; one silent (or
// not reading) for 3×KeepAlive is dead. A session with no messages either
// way for IdleTimeout and an empty outbox closes. When a session ends with
// messages still waiting, the manager redials with exponential backoff and
// jitter between BackoffMin and BackoffMax.
//
// Bad input — garbage, an oversized or malformed frame, a peer that stalls
// mid-frame, a protocol violation — closes that one connection with one
// log line; the listener and the other sessions carry on. Handshakes have a
// deadline, and at most 64 inbound handshakes run at once.
//
// # Memory
//
// A daemon may hold many sessions that carry nothing for hours, so an
// idle session is kept small (about 24 KB of heap and stacks, see
// BenchmarkIdleSessionMemory in package daemon): the receiver borrows its
// read buffer from a pool only while frames arrive, and makes its Handler
// calls on shared worker goroutines, so that its own stack, parked in a
// read for the session's life, never grows to what the store needs.
package peer
