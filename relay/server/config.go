package server

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Defaults, each declared once; DefaultConfig and Config.fill use them,
// chat-relay's configuration file mirrors them.
const (
	DefaultHandshakeTimeout      = 5 * time.Second
	DefaultKeepAlive             = 10 * time.Second
	DefaultJoinTimeout           = 10 * time.Second
	DefaultIdleTimeout           = 2 * time.Minute
	DefaultReservationsPerSource = 16
	DefaultSessionsPerTarget     = 32
	DefaultSessionsPerSource     = 64
	DefaultMaxSessions           = 10000
	DefaultHandshakesPerSource   = 8
	DefaultMaxHandshakes         = 64
	DefaultSessionRate           = 0 // bytes/s; 0 means unlimited
	DefaultGlobalRate            = 0 // bytes/s; 0 means unlimited
)

// ReservationsPerKey is fixed, not configurable: a key has at most one
// reservation and the newest wins. A daemon that reconnects after a
// network change must not be locked out by its own stale reservation for
// the keepalive timeout, and two reservations for one key would leave the
// relay guessing which to forward to.
const ReservationsPerKey = 1

// Config says how a Server behaves. Zero fields take the defaults above,
// except Key, which is required.
type Config struct {
	// Key is the relay's identity: its TLS certificate is made from it,
	// and every client checks it against the key in the relay address.
	Key ed25519.PrivateKey
	// Log receives one line per state change; nil means no logs.
	Log *zap.Logger

	// HandshakeTimeout bounds everything before a connection is a
	// reservation, a waiting caller or a joined target (the TLS handshake
	// and the first frame): a silent connection is dropped after it.
	HandshakeTimeout time.Duration
	// KeepAlive is the ping interval the relay asks reserving clients for;
	// a control connection silent for 3×KeepAlive is dead, on both sides.
	KeepAlive time.Duration
	// JoinTimeout is how long a caller waits for the target to accept.
	JoinTimeout time.Duration
	// IdleTimeout closes a joined session when no byte has moved in either
	// direction for this long.
	IdleTimeout time.Duration

	ReservationsPerSource int // reservations from one source IP
	SessionsPerTarget     int // sessions (waiting or joined) to one key
	SessionsPerSource     int // sessions (waiting or joined) from one caller IP
	MaxSessions           int // sessions (waiting or joined) in all

	// HandshakesPerSource and MaxHandshakes bound the connections still
	// in their handshake (TLS and the first frame) from one source IP
	// and in all: a connection over them is closed at once, so that
	// silent connections from one host cannot keep everyone out for
	// HandshakeTimeout, nor many hosts make the relay handshake without
	// end.
	HandshakesPerSource int
	MaxHandshakes       int

	// SessionRate caps one session's bytes per second, both directions
	// together; GlobalRate caps all sessions together. 0 means unlimited.
	SessionRate float64
	GlobalRate  float64
}

// DefaultConfig returns the defaults (without a Key).
func DefaultConfig() Config {
	var c Config
	c.fill()
	return c
}

// fill puts the defaults into zero fields.
func (c *Config) fill() {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	defInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&c.KeepAlive, DefaultKeepAlive)
	def(&c.JoinTimeout, DefaultJoinTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	defInt(&c.ReservationsPerSource, DefaultReservationsPerSource)
	defInt(&c.SessionsPerTarget, DefaultSessionsPerTarget)
	defInt(&c.SessionsPerSource, DefaultSessionsPerSource)
	defInt(&c.MaxSessions, DefaultMaxSessions)
	defInt(&c.HandshakesPerSource, DefaultHandshakesPerSource)
	defInt(&c.MaxHandshakes, DefaultMaxHandshakes)
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Key) != ed25519.PrivateKeySize {
		errs = append(errs, fmt.Errorf("key is %d bytes, want an Ed25519 private key", len(c.Key)))
	}
	for name, d := range map[string]time.Duration{"handshake_timeout": c.HandshakeTimeout,
		"keepalive": c.KeepAlive, "join_timeout": c.JoinTimeout, "idle_timeout": c.IdleTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, d))
		}
	}
	if c.KeepAlive > time.Duration(1<<32-1)*time.Millisecond {
		errs = append(errs, fmt.Errorf("keepalive %v is too long", c.KeepAlive))
	}
	for name, n := range map[string]int{"reservations_per_source": c.ReservationsPerSource,
		"sessions_per_target": c.SessionsPerTarget, "sessions_per_source": c.SessionsPerSource,
		"max_sessions": c.MaxSessions, "handshakes_per_source": c.HandshakesPerSource,
		"max_handshakes": c.MaxHandshakes} {
		if n < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", name, n))
		}
	}
	if c.SessionRate < 0 || c.GlobalRate < 0 {
		errs = append(errs, errors.New("rates must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("relay config: %w", err)
	}
	return nil
}
