package peer

import "github.com/p2pchat/p2pchat/tracker/record"

// Path is how a session's connection reaches the peer, best first.
type Path string

const (
	// PathDirect: a TCP connection between the two daemons, to an address
	// in the record (LAN, public, or a router's port mapping).
	PathDirect Path = "direct"
	// PathReversed: a direct connection made by the side that could not be
	// dialled, asked to over a relayed session (connection reversal).
	PathReversed Path = "reversed"
	// PathPunched: a direct connection made by both sides dialling each
	// other at once through their NATs (TCP simultaneous open).
	PathPunched Path = "punched"
	// PathRelayed: through a relay; the TLS session inside is still end
	// to end, but every byte takes the detour.
	PathRelayed Path = "relayed"
)

// better reports whether a session on path a should replace one on b: any
// direct connection beats a relayed one. Both ends see a relayed
// connection as relayed, so they agree.
func better(a, b Path) bool { return a != PathRelayed && b == PathRelayed }

// directOnly drops relay addresses.
func directOnly(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if !record.IsRelayAddr(a) {
			out = append(out, a)
		}
	}
	return out
}
