// Package control serves chatd's control API (see package ctl/api for the
// protocol) on a Unix socket, for the daemon's own user only.
//
// The daemon implements Backend and wires it up like this:
//
//	ln, err := control.ListenerFromSystemd()
//	if errors.Is(err, control.ErrNotSocketActivated) {
//		ln, err = control.Listen(socketPath)
//	}
//	if err != nil { ... }
//	srv := &control.Server{Backend: core, Log: log, UID: os.Getuid()}
//	err = srv.Serve(ctx, ln) // returns nil once ctx is cancelled
//
// Every request is checked twice before it reaches a handler: the peer's UID,
// read from the socket (SO_PEERCRED), must be Server.UID, and the request
// must carry no Origin or Referer header and must be addressed to api.Host,
// so that a web page cannot reach the socket through a local proxy (the
// rules of Tailscale's localapi). Every response carries chatd's version in
// api.HeaderVersion.
//
// Backend methods return *api.Error (or an error wrapping one) for anything
// the user caused or can fix; the server sends it as is, with its HTTP
// status. Any other error is logged and answered with a generic 500, so that
// internal details stay in the journal.
//
// Package controltest has an in-memory Backend and a helper that serves it on
// a temporary socket, for tests of clients.
package control
