package api

import "time"

// Message directions.
const (
	DirectionIn  = "in"  // received from the peer
	DirectionOut = "out" // written by the local user
)

// Message states. Outgoing messages go queued → sent → delivered; incoming
// messages are always received.
const (
	StateQueued    = "queued"    // in the outbox, not yet on the wire
	StateSent      = "sent"      // written to the peer's session, no receipt yet
	StateDelivered = "delivered" // the peer acknowledged that it stored it
	StateReceived  = "received"  // an incoming message, stored locally
)

// MaxBodyBytes is the largest message body, in bytes of UTF-8, that chatd
// accepts for sending.
const MaxBodyBytes = 64 << 10

// Status describes the running daemon.
type Status struct {
	Name          string   `json:"name"`
	Fingerprint   string   `json:"fingerprint"`
	PublicKey     string   `json:"public_key"`               // base64 of the Ed25519 public key
	ListenAddr    string   `json:"listen_addr"`              // local host:port of the peer listener
	ObservedAddrs []string `json:"observed_addrs,omitempty"` // as the tracker saw us
	PublicAddrs   []string `json:"public_addrs,omitempty"`   // mapped on the router, when public
	PortMap       PortMap  `json:"port_map"`
	Relay         Relay    `json:"relay"`
	// Online lists the contacts with a session, and how each is reached.
	Online []OnlinePeer `json:"online,omitempty"`
	// Upgrades counts relayed sessions moved onto direct connections
	// since chatd started, and the hole punches tried for them.
	Upgrades     Upgrades `json:"upgrades"`
	TrackerState string   `json:"tracker_state"` // e.g. "registered", "unreachable"
	Sessions     int      `json:"sessions"`      // open peer sessions
	// Requests counts the people who are not contacts with messages
	// waiting for the user's answer (chatctl requests).
	Requests      int     `json:"requests"`
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	// EventCursor is the ID of the newest committed event; pass it as the
	// after cursor to watch only what happens from now on.
	EventCursor int64 `json:"event_cursor"`
}

// Relay reservation states (Relay.State).
const (
	RelayOff       = "off"        // no relay configured (or reserve = "never")
	RelayNotNeeded = "not needed" // directly reachable
	RelayReserving = "reserving"
	RelayReserved  = "reserved" // peers can reach us through Relay
	RelayFailed    = "failed"   // retried with backoff; LastError says why
)

// Relay is the state of the relay reservation.
type Relay struct {
	State     string    `json:"state"`
	Relay     string    `json:"relay,omitempty"` // relay://HOST:PORT/KEY
	Since     time.Time `json:"since,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Upgrades counts this side's upgrades of relayed sessions.
type Upgrades struct {
	PunchAttempts int `json:"punch_attempts"`
	Punched       int `json:"punched"`
	Reversed      int `json:"reversed"`
}

// OnlinePeer is a contact with a session.
type OnlinePeer struct {
	Name string `json:"name"`
	Session
}

// Port mapping states (PortMap.State).
const (
	PortMapOff       = "off"        // disabled in the config, or chatd listens on loopback; Detail says which
	PortMapProbing   = "probing"    // looking for a gateway
	PortMapNoGateway = "no gateway" // nothing answered UPnP, PCP or NAT-PMP; retried with backoff
	PortMapMapped    = "mapped"     // a mapping is held
	PortMapFailed    = "failed"     // a gateway answered but mapping failed; retried with backoff
	PortMapStopped   = "stopped"    // chatd is stopping
)

// PortMap is the state of the port mapping on the home router.
type PortMap struct {
	State     string    `json:"state"`
	Detail    string    `json:"detail,omitempty"`   // why it is off
	Method    string    `json:"method,omitempty"`   // "upnp", "pcp" or "nat-pmp"
	Gateway   string    `json:"gateway,omitempty"`  // the router's LAN address
	External  string    `json:"external,omitempty"` // the router's external address and mapped port
	Expires   time.Time `json:"expires,omitzero"`   // lease end; zero when permanent
	Permanent bool      `json:"permanent,omitempty"`
	// BehindNAT: the external address is private, shared (100.64/10) or
	// unspecified, so another NAT stands in front of the router and the
	// mapping is not published.
	BehindNAT bool   `json:"behind_nat,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Message is one chat message, in either direction.
type Message struct {
	ID        string    `json:"id"`   // 32 lower-case hex digits (128 random bits)
	Peer      string    `json:"peer"` // the contact's name
	Direction string    `json:"direction"`
	Body      string    `json:"body"`
	SentAt    time.Time `json:"sent_at"` // the sender's timestamp, RFC 3339 with nanoseconds
	State     string    `json:"state"`
	Seq       int64     `json:"seq"` // local order in the conversation; History's before cursor
}

// Contact is a pinned peer.
type Contact struct {
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Verified    bool      `json:"verified"` // the user compared the fingerprint out of band
	Online      bool      `json:"online"`
	AddedAt     time.Time `json:"added_at"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Session     *Session  `json:"session,omitempty"` // set while online
}

// Session paths, best first (Session.Path).
const (
	PathDirect  = "direct"  // a TCP connection between the two daemons (LAN, public or port-mapped address)
	PathRelayed = "relayed" // through a relay; still end-to-end encrypted
)

// Session is how an online contact is reached.
type Session struct {
	Path       string  `json:"path"`
	RemoteAddr string  `json:"remote_addr"`
	RTTMillis  float64 `json:"rtt_ms,omitempty"` // the last measured round trip
}

// Event types.
const (
	EventMessage     = "message"      // Message is set: a new incoming (or other client's outgoing) message
	EventSent        = "sent"         // Message is set, state sent
	EventDelivered   = "delivered"    // Message is set, state delivered
	EventPresence    = "presence"     // Peer and Online are set, Addr may be
	EventContact     = "contact"      // Peer's contact entry changed (added, verified, removed); Detail says how
	EventKeyMismatch = "key_mismatch" // Peer presented a key other than the pinned one; Detail says more
	EventRequest     = "request"      // Peer, not a contact, sent messages kept as a request, or the request was answered; Detail says which
	EventRefused     = "refused"      // Peer's chatd refused our messages for now (a quota); Detail has its reason; they stay queued
	EventHeartbeat   = "heartbeat"    // keeps the stream alive; never has an ID
)

// Event is one line of the event stream.
type Event struct {
	ID      int64     `json:"id"` // the resume cursor; strictly increasing
	Type    string    `json:"type"`
	At      time.Time `json:"at"`
	Peer    string    `json:"peer,omitempty"`
	Message *Message  `json:"message,omitempty"`
	Online  *bool     `json:"online,omitempty"`
	Addr    string    `json:"addr,omitempty"`
	Path    string    `json:"path,omitempty"` // with presence: the session's path; a second "online" with a better one is an upgrade
	Detail  string    `json:"detail,omitempty"`
}

// Request is what someone who is not a contact sent: nothing of it is in
// the history until the user accepts it.
type Request struct {
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"` // of the key the sender proved (and the tracker vouched for)
	FirstAt     time.Time `json:"first_at"`
	LastAt      time.Time `json:"last_at"`
	// Dropped counts the oldest messages dropped to keep the request
	// within chatd's limits.
	Dropped  int       `json:"dropped,omitempty"`
	Messages []Message `json:"messages"`
}

// Blocked is a key on the block list.
type Blocked struct {
	Name        string    `json:"name"` // the name it was blocked under
	Fingerprint string    `json:"fingerprint"`
	BlockedAt   time.Time `json:"blocked_at,omitzero"`
}

// BlockRequest is the body of POST /v1/blocked.
type BlockRequest struct {
	Name string `json:"name"`
}

// SendRequest is the body of POST /v1/send.
type SendRequest struct {
	To   string `json:"to"`
	Body string `json:"body"`
}

// AddContactRequest is the body of POST /v1/contacts.
type AddContactRequest struct {
	Name string `json:"name"`
}

// VerifyRequest is the body of POST /v1/contacts/{name}/verify.
type VerifyRequest struct {
	Fingerprint string `json:"fingerprint"`
}
