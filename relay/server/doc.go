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
// # Copying
//
// A joined session costs two goroutines, one per connection, each copying
// what it reads to the other side. Without a bandwidth limit that copy is
// io.Copy between two *net.TCPConn, which Linux does with splice(2): the
// bytes never enter user space and an idle session holds no buffer, only
// the two goroutines' small stacks (13-14 KB of heap and stacks per
// session in all, BenchmarkIdleSessionMemory; 28 KB with a bandwidth
// limit) and, in the kernel, one pipe per direction
// (four file descriptors besides the two sockets; size LimitNOFILE for
// six per session). With a limit, each direction copies through an 8 KiB
// buffer and waits on golang.org/x/time/rate limiters (the session's and
// the global one).
//
// Idle sessions are found without touching the copy: a timer reads the
// kernel's byte counters (TCP_INFO tcpi_bytes_received, Linux 4.1+) of
// both sockets every quarter of the idle timeout and closes a session
// whose counters stood still for the whole timeout. The same readings feed
// relay_bytes_relayed_total while a session lasts; the exact count is
// settled when it ends.
//
// # Metrics
//
// On the server's own registry (Handler): relay_reservations_active,
// relay_joins_pending, relay_sessions_active, relay_sessions_total,
// relay_bytes_relayed_total, relay_refusals_total{reason} (each limit's
// name, no_reservation, join_timeout, handshake_timeout, auth,
// unknown_token, bad_request) and relay_session_ends_total{reason}
// (closed, error, idle, shutdown), beside the Go and process collectors.
//
// # Logs
//
// One line per state change: a reservation up or down (with the reason:
// closed, replaced, keepalive timeout, shutdown), a session down (with
// its duration, bytes and reason). Refusals are logged at debug level, as
// a stranger can cause any number of them.
package server
