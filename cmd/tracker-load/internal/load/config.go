package load

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/p2pchat/p2pchat/internal/defaults"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/store/storeopen"
)

// Config describes a load run. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	URL     string // tracker base URL; the host must be a loopback IP literal
	Users   int    // how many synthetic users exist (and Preload registers)
	Prefix  string // user names are Prefix + 7 digits
	Seed    string // derives each user's key; reuse it to reuse preloaded users
	Workers int    // concurrent requests
	TTL     time.Duration

	// PreloadDSN, if set, makes Preload write signed records straight into
	// the tracker's store (storeopen DSN) instead of going through HTTP.
	PreloadDSN      string
	PreloadDuration time.Duration

	Lookups  int           // lookups to send at most
	Updates  int           // updates to send at most
	Duration time.Duration // each of the lookup and update phases at most
	// Verify checks each looked-up record's signature (tracker/client does);
	// off, lookups only check the status, so the client spends its CPU on
	// load rather than on Ed25519.
	Verify bool
	// Timed, if set, is called when a phase that prepares its requests
	// first (Updates signs them) starts its timed part.
	Timed func(phase string)
}

// DefaultConfig returns the defaults for every zero Config field.
func DefaultConfig() Config {
	return Config{
		Users:           10_000,
		Prefix:          "load",
		Seed:            "p2pchat-load",
		Workers:         32,
		TTL:             time.Hour,
		PreloadDuration: 30 * time.Minute,
		Lookups:         200_000,
		Updates:         20_000,
		Duration:        30 * time.Second,
	}
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	defaults.Set(&c.Users, d.Users)
	defaults.Set(&c.Workers, d.Workers)
	defaults.Set(&c.Lookups, d.Lookups)
	defaults.Set(&c.Updates, d.Updates)
	defaults.Set(&c.TTL, d.TTL)
	defaults.Set(&c.PreloadDuration, d.PreloadDuration)
	defaults.Set(&c.Duration, d.Duration)
	defaults.Set(&c.Prefix, d.Prefix)
	defaults.Set(&c.Seed, d.Seed)
	return c
}

// ErrNotLoopback is returned for a target that is not on this machine's
// loopback interface.
var ErrNotLoopback = errors.New("tracker-load sends only to loopback (127.0.0.0/8 or ::1)")

// Validate checks c after WithDefaults: a loopback target, valid user
// names, sane counts.
func (c Config) Validate() error {
	if err := CheckTarget(c.URL); err != nil {
		return err
	}
	if c.PreloadDSN != "" {
		if err := CheckDSN(c.PreloadDSN); err != nil {
			return err
		}
	}
	if err := record.ValidateName(UserName(c.Prefix, c.Users-1)); err != nil {
		return fmt.Errorf("prefix %q: %w", c.Prefix, err)
	}
	if c.Users < 1 || c.Users > maxUsers || c.Workers < 1 || c.Lookups < 0 || c.Updates < 0 {
		return fmt.Errorf("need 1 to %d users, at least one worker and non-negative counts", maxUsers)
	}
	return nil
}

// maxUsers is what seven digits can number.
const maxUsers = 10_000_000

// CheckTarget accepts an http or https URL whose host is a loopback IP
// literal. Names, even "localhost", are refused: what they resolve to is
// not ours to vouch for.
func CheckTarget(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("tracker URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("tracker URL %q: want http:// or https://", raw)
	}
	if err := checkHost(u.Hostname()); err != nil {
		return fmt.Errorf("tracker URL %q: %w", raw, err)
	}
	return nil
}

func checkHost(host string) error {
	if host == "localhost" {
		return fmt.Errorf("%w: write 127.0.0.1 instead of localhost", ErrNotLoopback)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() || ip.Zone() != "" {
		return fmt.Errorf("%w: host %q is not a loopback IP address", ErrNotLoopback, host)
	}
	return nil
}

// CheckDSN accepts a store DSN for the direct preload: a SQLite file path,
// or a PostgreSQL URL whose hosts are all loopback IPs or Unix sockets.
func CheckDSN(dsn string) error {
	if !storeopen.IsPostgres(dsn) {
		return nil // a local file
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("preload DSN: %w", err)
	}
	hosts := []string{cfg.Host}
	for _, fb := range cfg.Fallbacks {
		hosts = append(hosts, fb.Host)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") {
			continue // Unix socket
		}
		if err := checkHost(strings.Trim(h, "[]")); err != nil {
			return fmt.Errorf("preload DSN: %w", err)
		}
	}
	return nil
}

// isLoopbackAddr reports whether a dialled address is loopback; the HTTP
// transport checks every connection with it, as a second line of defence.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
