package main

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/internal/tomlfile"
	"github.com/p2pchat/p2pchat/relay/server"
)

// File is chat-relay's configuration file. Every key has a working
// default (Default); unknown keys are refused, so a typo does not leave a
// default silently in place. Durations are strings such as "90s".
type File struct {
	Listen        string `toml:"listen"`
	PublicAddr    string `toml:"public_addr"`    // host:port others reach; "" means the listen address
	Key           string `toml:"key"`            // "" means DefaultKeyPath
	MetricsListen string `toml:"metrics_listen"` // "" turns /metrics and /healthz off
	LogFormat     string `toml:"log_format"`
	LogLevel      string `toml:"log_level"`

	HandshakeTimeout      time.Duration `toml:"handshake_timeout"`
	KeepAlive             time.Duration `toml:"keepalive"`
	JoinTimeout           time.Duration `toml:"join_timeout"`
	IdleTimeout           time.Duration `toml:"idle_timeout"`
	ReservationsPerSource int           `toml:"reservations_per_source"`
	SessionsPerTarget     int           `toml:"sessions_per_target"`
	SessionsPerSource     int           `toml:"sessions_per_source"`
	MaxSessions           int           `toml:"max_sessions"`
	HandshakesPerSource   int           `toml:"handshakes_per_source"`
	MaxHandshakes         int           `toml:"max_handshakes"`
	SessionRate           float64       `toml:"session_rate"` // bytes/s, 0 = unlimited
	GlobalRate            float64       `toml:"global_rate"`  // bytes/s, 0 = unlimited
}

// Defaults of the settings that are chat-relay's own; the relay's limits
// come from server.DefaultConfig.
const (
	DefaultListen        = ":7072" // every address, IPv4 and IPv6
	DefaultMetricsListen = "127.0.0.1:7073"
	keyFileName          = "relay.key"
)

// Default returns the configuration an empty file gives.
func Default() File {
	d := server.DefaultConfig()
	return File{
		Listen:                DefaultListen,
		MetricsListen:         DefaultMetricsListen,
		LogFormat:             "json",
		LogLevel:              "info",
		HandshakeTimeout:      d.HandshakeTimeout,
		KeepAlive:             d.KeepAlive,
		JoinTimeout:           d.JoinTimeout,
		IdleTimeout:           d.IdleTimeout,
		ReservationsPerSource: d.ReservationsPerSource,
		SessionsPerTarget:     d.SessionsPerTarget,
		SessionsPerSource:     d.SessionsPerSource,
		MaxSessions:           d.MaxSessions,
		HandshakesPerSource:   d.HandshakesPerSource,
		MaxHandshakes:         d.MaxHandshakes,
		SessionRate:           d.SessionRate,
		GlobalRate:            d.GlobalRate,
	}
}

// Load reads the file at path over the defaults; "" means no file.
func Load(path string) (File, error) {
	f := Default()
	if path == "" {
		return f, nil
	}
	if err := tomlfile.Load(path, &f); err != nil {
		return File{}, err
	}
	return f, nil
}

// DefaultKeyPath is relay.key in systemd's $STATE_DIRECTORY (the first,
// if several), else in the working directory.
func DefaultKeyPath(getenv func(string) string) string {
	if dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); dir != "" {
		return filepath.Join(dir, keyFileName)
	}
	return keyFileName
}

// Validate checks what has no sensible fallback; the relay's limits are
// checked by server.New.
func (f File) Validate() error {
	var errs []error
	if f.Listen == "" {
		errs = append(errs, errors.New("listen is empty"))
	}
	if f.PublicAddr != "" {
		if _, _, err := net.SplitHostPort(f.PublicAddr); err != nil {
			errs = append(errs, fmt.Errorf("public_addr %q: want host:port", f.PublicAddr))
		}
	}
	if f.LogFormat != "json" && f.LogFormat != "console" {
		errs = append(errs, fmt.Errorf("log_format %q: want json or console", f.LogFormat))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	return nil
}

// Server returns the relay configuration f describes, without Key and Log.
func (f File) Server() server.Config {
	return server.Config{
		HandshakeTimeout:      f.HandshakeTimeout,
		KeepAlive:             f.KeepAlive,
		JoinTimeout:           f.JoinTimeout,
		IdleTimeout:           f.IdleTimeout,
		ReservationsPerSource: f.ReservationsPerSource,
		SessionsPerTarget:     f.SessionsPerTarget,
		SessionsPerSource:     f.SessionsPerSource,
		MaxSessions:           f.MaxSessions,
		HandshakesPerSource:   f.HandshakesPerSource,
		MaxHandshakes:         f.MaxHandshakes,
		SessionRate:           f.SessionRate,
		GlobalRate:            f.GlobalRate,
	}
}
