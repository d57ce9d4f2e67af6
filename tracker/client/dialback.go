package client

import (
	"net/url"
)

// Dialback is the tracker's answer to WithDialback.
type Dialback string

// The answers. A tracker that does not know the check (or a value this
// client does not know) gives DialbackNone.
const (
	DialbackNone Dialback = ""
	// DialbackReachable: the tracker opened a TCP connection to the
	// observed address, so peers can probably dial it too.
	DialbackReachable Dialback = "reachable"
	// DialbackUnreachable: the connection was refused or timed out.
	DialbackUnreachable Dialback = "unreachable"
	// DialbackSkipped: the tracker did not try (turned off, rate limited,
	// busy, or it knows only the observed IP and not the port).
	DialbackSkipped Dialback = "skipped"
)

func parseDialback(s string) Dialback {
	switch d := Dialback(s); d {
	case DialbackReachable, DialbackUnreachable, DialbackSkipped:
		return d
	}
	return DialbackNone
}

// AnnounceOption asks for more in a Register, Update or Rotate.
type AnnounceOption func(url.Values)

// WithDialback asks the tracker to try a TCP connection back to the address
// it sees the request come from (Announce.Observed) and to say in
// Announce.Dialback whether it got through. The tracker dials nothing else:
// make the request from the port peers should reach (chatd dials the
// tracker from its listening port), or the answer is about another port.
// The answer can take up to the tracker's dial-back timeout (1.5 s by
// default) longer.
func WithDialback() AnnounceOption {
	return func(q url.Values) { q.Add("check", "dialback") }
}

// query is the query string (with its "?") that opts ask for.
func query(opts []AnnounceOption) string {
	if len(opts) == 0 {
		return ""
	}
	q := url.Values{}
	for _, o := range opts {
		o(q)
	}
	return "?" + q.Encode()
}
