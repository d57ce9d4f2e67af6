// Package config loads chatd's configuration: a TOML file whose every key has
// a working default, overridden by command-line flags.
//
// Defaults follow the XDG base directory specification:
//
//	config file     $XDG_CONFIG_HOME/chatd/chatd.toml  (~/.config/chatd/chatd.toml)
//	data directory  $XDG_DATA_HOME/chatd/              (~/.local/share/chatd/)
//	control socket  $CHATD_SOCKET, else $XDG_RUNTIME_DIR/chatd/control.sock (api.SocketPath)
//
// A missing default config file is not an error; a missing file named
// explicitly with --config is.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/portmap"
	"github.com/p2pchat/p2pchat/daemon/presence"
	"github.com/p2pchat/p2pchat/internal/tomlfile"
)

// Duration is a time.Duration that reads from TOML strings such as "15s".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Config is chatd's whole configuration. The TOML keys are the snake_case
// names in the struct tags; configs/chatd.toml documents each one.
type Config struct {
	// Name is the user name registered on the tracker (required).
	Name string `toml:"name"`
	// Tracker is the tracker's base URL.
	Tracker string `toml:"tracker"`
	// Listen is the TCP address peer sessions are accepted on and dialled
	// from. The default, [::]:7171, is dual-stack (IPv4 and IPv6).
	Listen string `toml:"listen"`
	// DataDir holds the identity key and the message store.
	DataDir string `toml:"data_dir"`
	// ControlSocket is the Unix socket chatctl talks to.
	ControlSocket string `toml:"control_socket"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `toml:"log_level"`
	// LogFormat is "console" (the default, for journald) or "json".
	LogFormat string `toml:"log_format"`
	// KeepEvents bounds the event log (messages are not events): every
	// PruneInterval all but the newest KeepEvents are deleted.
	KeepEvents    int      `toml:"keep_events"`
	PruneInterval Duration `toml:"prune_interval"`

	Presence Presence `toml:"presence"`
	Peer     Peer     `toml:"peer"`
	Limits   Limits   `toml:"limits"`
	PortMap  PortMap  `toml:"portmap"`
	Relay    Relay    `toml:"relay"`
}

// Relay configures the relays of last resort.
type Relay struct {
	// Servers are relays chatd may hold a reservation on, relay://HOST:PORT/KEY.
	Servers []string `toml:"servers"`
	// Reserve is when to hold one: "auto" (while not directly reachable),
	// "always" or "never".
	Reserve string `toml:"reserve"`
}

// Relay reservation modes (Relay.Reserve).
const (
	ReserveAuto   = "auto"
	ReserveAlways = "always"
	ReserveNever  = "never"
)

// PortMap configures the port mapping on the home router (UPnP IGD, PCP,
// NAT-PMP). It never runs when Listen is a loopback address.
type PortMap struct {
	// Enabled turns the mapping on.
	Enabled bool `toml:"enabled"`
	// ExternalPort is the external port wanted; 0 means the listening port.
	ExternalPort uint16 `toml:"external_port"`
	// Protocols lists what to try: "upnp", "pcp", "nat-pmp".
	Protocols []string `toml:"protocols"`
	// Lease is the lifetime asked for; 0 means 1h for UPnP and 2h for PCP
	// and NAT-PMP. Mappings are renewed at half the granted lifetime.
	Lease Duration `toml:"lease"`
	// CheckInterval is how often the router is asked whether the mapping
	// and its external address still stand.
	CheckInterval Duration `toml:"check_interval"`
}

// Presence configures how the tracker record is kept fresh.
type Presence struct {
	// RecordTTL is how long a published record stays valid.
	RecordTTL Duration `toml:"record_ttl"`
	// CheckInterval is how often local addresses are checked for changes.
	CheckInterval Duration `toml:"check_interval"`
	// ObserveInterval is how often the tracker is asked which address it
	// sees chatd coming from (a NAT's public address can change).
	ObserveInterval Duration `toml:"observe_interval"`
	// BackoffMax caps the retry delay while the tracker is unreachable.
	BackoffMax Duration `toml:"backoff_max"`
}

// Peer configures peer sessions.
type Peer struct {
	// StrangerLookups and StrangerLookupBurst bound the tracker lookups
	// that connections from unknown peers cause (per second, and at once).
	StrangerLookups     float64 `toml:"stranger_lookups"`
	StrangerLookupBurst int     `toml:"stranger_lookup_burst"`
	// UnknownNameTTL is how long a name the tracker does not know is
	// refused without asking again.
	UnknownNameTTL Duration `toml:"unknown_name_ttl"`
	// MaxSessions, MaxStrangerSessions and MaxSessionsPerKey bound the
	// sessions (peer.Config says how).
	MaxSessions         int      `toml:"max_sessions"`
	MaxStrangerSessions int      `toml:"max_stranger_sessions"`
	MaxSessionsPerKey   int      `toml:"max_sessions_per_key"`
	KeepAlive           Duration `toml:"keepalive"`
	IdleTimeout         Duration `toml:"idle_timeout"`
	HandshakeTimeout    Duration `toml:"handshake_timeout"`
	BackoffMin          Duration `toml:"backoff_min"`
	BackoffMax          Duration `toml:"backoff_max"`
}

// Limits bounds what peers may make chatd store, and how fast.
type Limits struct {
	// RequestSenders, RequestMessages and RequestBytes bound the requests
	// (messages from strangers kept until the user answers).
	RequestSenders  int `toml:"request_senders"`
	RequestMessages int `toml:"request_messages"`
	RequestBytes    int `toml:"request_bytes"`
	// Rates are messages per second with a burst; daily bytes count per
	// UTC day. 0 means no limit.
	StrangerRate       float64 `toml:"stranger_rate"`
	StrangerBurst      int     `toml:"stranger_burst"`
	StrangerDailyBytes int64   `toml:"stranger_daily_bytes"`
	ContactRate        float64 `toml:"contact_rate"`
	ContactBurst       int     `toml:"contact_burst"`
	ContactDailyBytes  int64   `toml:"contact_daily_bytes"`
}

// Default returns the configuration used when nothing is set. Durations
// come from the packages that use them (peer, presence, portmap), so the
// file, the flags and a Config built in code all get the same values.
func Default() Config {
	return Config{
		Tracker:       "http://127.0.0.1:7070",
		Listen:        "[::]:7171", // dual-stack: IPv4 and IPv6
		DataDir:       DefaultDataDir(),
		ControlSocket: api.SocketPath(),
		LogLevel:      "info",
		LogFormat:     "console",
		KeepEvents:    100000,
		PruneInterval: Duration{time.Hour},
		Presence: Presence{
			RecordTTL:       Duration{presence.DefaultRecordTTL},
			CheckInterval:   Duration{presence.DefaultCheckInterval},
			ObserveInterval: Duration{presence.DefaultObserveInterval},
			BackoffMax:      Duration{presence.DefaultBackoffMax},
		},
		Relay: Relay{Servers: []string{}, Reserve: ReserveAuto},
		PortMap: PortMap{
			Enabled:       true,
			Protocols:     []string{"upnp", "pcp", "nat-pmp"},
			CheckInterval: Duration{portmap.DefaultCheckInterval},
		},
		Peer: Peer{
			KeepAlive:           Duration{peer.DefaultKeepAlive},
			IdleTimeout:         Duration{peer.DefaultIdleTimeout},
			HandshakeTimeout:    Duration{peer.DefaultHandshakeTimeout},
			BackoffMin:          Duration{peer.DefaultBackoffMin},
			BackoffMax:          Duration{peer.DefaultBackoffMax},
			StrangerLookups:     1,
			StrangerLookupBurst: 10,
			UnknownNameTTL:      Duration{5 * time.Minute},
			MaxSessions:         peer.DefaultMaxSessions,
			MaxStrangerSessions: peer.DefaultMaxStrangerSessions,
			MaxSessionsPerKey:   peer.DefaultMaxSessionsPerKey,
		},
		Limits: Limits{
			RequestSenders: 50, RequestMessages: 20, RequestBytes: 256 << 10,
			StrangerRate: 1, StrangerBurst: 10, StrangerDailyBytes: 1 << 20,
			ContactDailyBytes: 1 << 30,
		},
	}
}

// DefaultPath is the config file read when --config is not given.
func DefaultPath() string {
	return filepath.Join(xdgDir("XDG_CONFIG_HOME", ".config"), "chatd", "chatd.toml")
}

func xdgDir(env, fallback string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/"
	}
	return filepath.Join(home, fallback)
}

// Load reads path over the defaults. If explicit is false a missing file is
// fine (the defaults stand); unknown keys are an error either way, so a typo
// never silently does nothing.
func Load(path string, explicit bool) (Config, error) {
	cfg := Default()
	if err := tomlfile.Load(path, &cfg); err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return Default(), nil
		}
		return cfg, err
	}
	return cfg, nil
}

// Validate checks what chatd needs before it can start.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("no user name: set name in chatd.toml or pass --name")
	case c.Tracker == "":
		return errors.New("no tracker url: set tracker in chatd.toml or pass --tracker")
	case c.DataDir == "":
		return errors.New("no data directory: set data_dir or pass --data-dir")
	case c.ControlSocket == "":
		return errors.New("no control socket path: set control_socket or pass --control-socket")
	case c.PruneInterval.Duration <= 0 || c.KeepEvents < 1:
		return errors.New("keep_events must be at least 1 and prune_interval positive")
	case c.Limits.RequestSenders < 1 || c.Limits.RequestMessages < 1 || c.Limits.RequestBytes < 1:
		return errors.New("limits: request_senders, request_messages and request_bytes must be at least 1")
	case c.Limits.StrangerRate < 0 || c.Limits.ContactRate < 0 || c.Limits.StrangerDailyBytes < 0 || c.Limits.ContactDailyBytes < 0:
		return errors.New("limits: rates and daily bytes must not be negative (0 means no limit)")
	case c.Relay.Reserve != ReserveAuto && c.Relay.Reserve != ReserveAlways && c.Relay.Reserve != ReserveNever:
		return fmt.Errorf("relay reserve %q: want auto, always or never", c.Relay.Reserve)
	}
	return nil
}
