// Package server is the relay itself (chat-relay runs it): it holds
// reservations for daemons that cannot be dialled, joins callers to them
// and copies bytes it cannot read. The protocol is described in package
// relay, which is also the client.
//
//	srv, err := server.New(server.Config{Key: key, Log: log}) // zero limits take the defaults
//	fmt.Println(srv.Addr("relay.example.org:7072"))           // relay://relay.example.org:7072/KEY
//	go http.ListenAndServe("127.0.0.1:7073", srv.Handler())   // /metrics, /healthz
//	err = srv.Serve(ctx, ln)                                  // nil after ctx is cancelled
//
// # TLS
//
// Every connection starts with TLS 1.3: the relay's certificate is made
// from Config.Key, and a client certificate is asked for but not required
// (a reserving daemon sends its identity certificate, whose key the
// reservation is for; callers and joining targets send none). A
// connection whose first byte is not a TLS handshake's is closed, except
// that a client of protocol version 1 is first told, in its own framing,
// to upgrade. See package relay for the protocol. At most
// Config.HandshakesPerSource connections from one IP, and
// Config.MaxHandshakes in all, may be in their handshake (TLS and the
// first frame) at once; one more is closed as soon as it is accepted.
//
// # Copying
//
// A joined session costs two goroutines, one per connection, each reading
// what one TLS connection decrypts and writing it to the other: with TLS
// on both sides the kernel cannot splice. An idle copy waits in a one-byte
// read, so it holds no buffer; when a record arrives it borrows a 16 KiB
// buffer from a pool, fills it with what has already arrived (reads with
// a past deadline, which do not wait) and writes that. The goroutines are
// started after the TLS handshake, whose stack they need not keep, and
// clients write records of at most 4 KiB, so crypto/tls's read buffers
// stay small. An idle session then costs the relay 27-30 KB of heap and
// stacks, whether or not it has carried traffic, with or without a
// bandwidth limit (BenchmarkIdleSessionMemory; 13 KB, or 28 KB with a
// limit, in protocol version 1, which spliced plain TCP), and two file
// descriptors. With a limit, each chunk first waits on
// golang.org/x/time/rate limiters (the session's and the global one).
//
// Idle sessions are found without touching the copy: a timer reads the
// bytes the copies have counted every quarter of the idle timeout and
// closes a session whose count stood still for the whole timeout. The
// same readings feed relay_bytes_relayed_total while a session lasts; the
// exact count is settled when it ends.
//
// # Metrics
//
// On the server's own registry (Handler): relay_reservations_active,
// relay_joins_pending, relay_sessions_active, relay_sessions_total,
// relay_bytes_relayed_total, relay_refusals_total{reason} (each limit's
// name, no_reservation, join_timeout, handshake_timeout, tls,
// old_version, auth, unknown_token, bad_request) and
// relay_session_ends_total{reason} (closed, error, idle, shutdown),
// beside the Go and process collectors.
//
// # Logs
//
// One line per state change: a reservation up or down (with the reason:
// closed, replaced, keepalive timeout, shutdown), a session down (with
// its duration, bytes and reason). Refusals are logged at debug level, as
// a stranger can cause any number of them; clients of protocol version 1
// also get an info line, one a minute at most, with their count.
package server
