package peer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/wire"
	"github.com/p2pchat/p2pchat/internal/defaults"
)

// Resolver tells the manager whom it is dialling.
type Resolver interface {
	// Resolve returns the key to expect and the addresses to dial for a
	// contact name (the pinned key if any, else the key of the verified
	// tracker record).
	Resolve(ctx context.Context, name string) (pub ed25519.PublicKey, addrs []string, err error)
}

// Authorizer decides who may hold a session.
type Authorizer interface {
	// Authorize is called after the TLS handshake with the name the peer
	// claims and the key it proved. It says whether the peer is a contact
	// or a stranger the user has not accepted (whose sessions are
	// bounded more tightly), or refuses the session with an error: it is
	// logged, the peer is told ("not authorized", or a RefusedError's
	// reason), and the connection is closed.
	Authorize(ctx context.Context, name string, pub ed25519.PublicKey) (Standing, error)
}

// Standing is what the user has said of a peer.
type Standing uint8

// Standings.
const (
	Contact  Standing = iota // the user added or accepted the peer
	Stranger                 // a peer the user has not accepted (its messages are requests)
)

// OutMsg is an outgoing message with its place in the local outbox.
type OutMsg struct {
	Seq int64 // outbox order, increasing per peer
	Msg wire.Msg
}

// Handler is the store behind the sessions. Sessions call it from their
// own goroutines, concurrently for different peers.
type Handler interface {
	// Deliver stores received messages durably, dropping IDs it already
	// has, and returns after the commit: only then does the session
	// acknowledge them. key is the one the peer proved. msgs is only
	// valid during the call (the bodies may be kept). A *RefusedError
	// ends the session and tells the peer why; any error leaves the
	// batch unacknowledged, so the peer resends it later.
	Deliver(ctx context.Context, peer string, key ed25519.PublicKey, msgs []wire.Msg) error
	// Pending returns up to limit unacknowledged outgoing messages for
	// peer with Seq > afterSeq, in Seq order.
	Pending(ctx context.Context, peer string, afterSeq int64, limit int) ([]OutMsg, error)
	// Sent records that messages were written to a session.
	Sent(ctx context.Context, peer string, ids [][16]byte) error
	// Acked records that the peer has stored these messages; they leave
	// the outbox. IDs may repeat or be unknown (resends are acked again).
	Acked(ctx context.Context, peer string, ids [][16]byte) error
	// PeerState reports a peer coming up (a session was established, or
	// replaced by one on a better path: an upgrade) or going down (its
	// last session ended). Calls arrive in order, one at a time.
	PeerState(peer string, up bool, remoteAddr string, path Path)
}

// RefusalReporter may be implemented by a Handler to hear about refused
// peers — above all key mismatches, which the user must be shown loudly.
// peer is the contact dialled, or the name a connecting peer claimed.
type RefusalReporter interface {
	Refused(peer string, err error)
}

// Config configures a Manager. Zero durations take the defaults below.
type Config struct {
	Identity   *identity.Identity
	Name       string // our user name, sent in Hello
	ListenAddr string // host:port to listen and dial from; ":0" picks a port

	Resolver   Resolver
	Authorizer Authorizer
	Handler    Handler
	Log        *zap.Logger

	KeepAlive        time.Duration // Ping after this long without hearing from the peer; dead after 3×
	IdleTimeout      time.Duration // close a session with nothing to send or receive for this long
	HandshakeTimeout time.Duration // TCP connect + preamble + TLS + Hello + Authorize
	BackoffMin       time.Duration // first reconnect delay
	BackoffMax       time.Duration // longest reconnect delay
	// RelayDelay is how long direct addresses get before a relay is tried
	// too (all at once when there is no direct address, or when every
	// direct attempt has failed).
	RelayDelay time.Duration
	// SelfAddrs, if set, lists our direct addresses (the record's, without
	// relays) to offer a peer over a relayed session, so the two can try a
	// direct connection (see upgrade.go); nil turns the upgrade off.
	SelfAddrs func() []string
	// Dialable, if set, reports whether others can dial us directly (the
	// tracker's dial-back got through, or a port is forwarded): then a
	// relayed peer is asked to dial us back (connection reversal).
	Dialable func() bool
	// ReversalWait is how long the caller of a relayed session waits for
	// the other side to dial it back before both punch.
	ReversalWait time.Duration
	// UpgradeBackoffMin and UpgradeBackoffMax pace the upgrade rounds
	// while a session stays relayed.
	UpgradeBackoffMin, UpgradeBackoffMax time.Duration

	// MaxSessions bounds the sessions at once, MaxStrangerSessions those
	// with strangers among them, and MaxSessionsPerKey those with one key
	// (under several names; strangers never get more than half of
	// MaxSessions). A session over a bound is refused with a Bye that says
	// so. MaxSessions is lowered further, if need be, so
	// that sessions and handshakes leave fdHeadroom file descriptors free
	// below RLIMIT_NOFILE for the control socket and the store.
	MaxSessions, MaxStrangerSessions, MaxSessionsPerKey int

	// Listener, if set, is served instead of binding ListenAddr (the
	// transport is injectable, as wireguard-go's conn.Bind is: tests hand
	// in a listener they already hold, so no port can be taken between
	// choosing and binding it). The manager closes it.
	Listener net.Listener
	// Dial, if set, replaces the default dialer: TCP from the listening
	// port with SO_REUSEPORT, or, with an injected Listener (whose port
	// may not allow that), plain TCP. laddr is the listener's address.
	Dial func(ctx context.Context, laddr net.Addr, addr string) (net.Conn, error)
}

// Defaults for zero Config durations.
const (
	DefaultKeepAlive         = 15 * time.Second
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultBackoffMin        = 500 * time.Millisecond
	DefaultBackoffMax        = 2 * time.Minute
	DefaultRelayDelay        = 300 * time.Millisecond
	DefaultReversalWait      = time.Second
	DefaultUpgradeBackoffMin = 10 * time.Second
	DefaultUpgradeBackoffMax = 5 * time.Minute

	DefaultMaxSessions         = 1024
	DefaultMaxStrangerSessions = 32
	DefaultMaxSessionsPerKey   = 2
)

const (
	batchLimit    = 256 // messages per Pending call and per Deliver call
	maxHandshakes = 64  // concurrent unauthenticated inbound handshakes
	// maxHandshakesPerSource bounds them per source address, so that one
	// host cannot take every slot (connections through a relay, which
	// all come from the relay, count only against the global bound).
	maxHandshakesPerSource = 8
	// preambleTimeout bounds the wait for a new connection's preamble.
	preambleTimeout = 3 * time.Second
	// refusedRetryDelay is how long after a session the peer ended with a
	// refusal (RefusedError) we dial again, unless a new message wakes the
	// dialler first.
	refusedRetryDelay = 10 * time.Second
	// logEvery paces the log lines about what anyone can cause (failed
	// handshakes, connections over the handshake bounds): the first at
	// once, then at most one a minute with the count.
	logEvery = time.Minute
	// fdHeadroom is how many file descriptors peers may never take (see
	// Config.MaxSessions).
	fdHeadroom     = 128
	maxCtrlQueue   = 1024
	closeLinger    = 2 * time.Second // how long a closing session waits for the peer to hang up
	deadMultiplier = 3
)

func (c *Config) setDefaults() error {
	if c.Identity == nil || c.Resolver == nil || c.Authorizer == nil || c.Handler == nil {
		return errors.New("peer config: Identity, Resolver, Authorizer and Handler are required")
	}
	if c.Name == "" || len(c.Name) > wire.MaxName {
		return errors.New("peer config: Name must be 1..64 bytes")
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	defaults.Set(&c.ListenAddr, ":0")
	defaults.Set(&c.KeepAlive, DefaultKeepAlive)
	defaults.Set(&c.IdleTimeout, DefaultIdleTimeout)
	defaults.Set(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	defaults.Set(&c.BackoffMin, DefaultBackoffMin)
	defaults.Set(&c.BackoffMax, DefaultBackoffMax)
	defaults.Set(&c.RelayDelay, DefaultRelayDelay)
	defaults.Set(&c.ReversalWait, DefaultReversalWait)
	defaults.Set(&c.UpgradeBackoffMin, DefaultUpgradeBackoffMin)
	defaults.Set(&c.UpgradeBackoffMax, DefaultUpgradeBackoffMax)
	defaults.Set(&c.MaxSessions, DefaultMaxSessions)
	defaults.Set(&c.MaxStrangerSessions, DefaultMaxStrangerSessions)
	defaults.Set(&c.MaxSessionsPerKey, DefaultMaxSessionsPerKey)
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	return nil
}
