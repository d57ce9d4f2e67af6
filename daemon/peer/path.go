package peer

// Path is how a session's connection reaches the peer, best first.
type Path string

const (
	// PathDirect: a TCP connection between the two daemons, to an address
	// in the record (LAN, public, or a router's port mapping).
	PathDirect Path = "direct"
	// PathRelayed: through a relay; the TLS session inside is still end
	// to end, but every byte takes the detour.
	PathRelayed Path = "relayed"
)

// better reports whether a session on path a should replace one on b: a
// direct connection always beats a relayed one. Both ends see the same
// paths, so they agree.
func better(a, b Path) bool { return a == PathDirect && b == PathRelayed }
