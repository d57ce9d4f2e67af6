// Package config loads chat-tracker's TOML configuration file. Every key
// has a working default (Default), so an empty or missing file is a valid
// configuration; configs/tracker.toml in the repository lists every key
// with its default. Unknown keys are refused, so a typo does not silently
// leave a default in place.
//
//	f, err := config.Load(path) // path "" means defaults only
//	f.Listen = flagValue        // flags override the file
//	cfg, err := f.Server()      // the server.Config it describes
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/internal/tomlfile"
	"github.com/p2pchat/p2pchat/tracker/server"
)

// File is the configuration file's contents. Durations are strings such as
// "90s", "24h".
type File struct {
	Listen    string `toml:"listen"`
	DB        string `toml:"db"` // SQLite path or postgres:// URL; "" means DefaultDB
	TLSCert   string `toml:"tls_cert"`
	TLSKey    string `toml:"tls_key"`
	LogFormat string `toml:"log_format"` // "json" or "console"
	LogLevel  string `toml:"log_level"`  // debug, info, warn, error

	TrustedProxies []string `toml:"trusted_proxies"` // CIDRs or single IPs

	MaxTTL             time.Duration `toml:"max_ttl"`
	ReannounceFraction float64       `toml:"reannounce_fraction"`
	ReannounceMin      time.Duration `toml:"reannounce_min"`
	ReannounceMax      time.Duration `toml:"reannounce_max"`
	PurgeGrace         time.Duration `toml:"purge_grace"`
	PurgeInterval      time.Duration `toml:"purge_interval"`

	RateLimit        float64 `toml:"rate_limit"`
	RateBurst        int     `toml:"rate_burst"`
	RateLimitSources int     `toml:"rate_limit_sources"`
	MaxBodyBytes     int64   `toml:"max_body_bytes"`

	// DialbackTimeout 0 turns dial-backs off.
	DialbackTimeout     time.Duration `toml:"dialback_timeout"`
	DialbackRate        float64       `toml:"dialback_rate"`
	DialbackBurst       int           `toml:"dialback_burst"`
	DialbackGlobalRate  float64       `toml:"dialback_global_rate"`
	DialbackGlobalBurst int           `toml:"dialback_global_burst"`
	DialbackMaxInFlight int           `toml:"dialback_max_in_flight"`

	// /healthz and /metrics: their own per-source limit, and how long a
	// record count is reused.
	OpsRateLimit float64       `toml:"ops_rate_limit"`
	OpsRateBurst int           `toml:"ops_rate_burst"`
	CountTTL     time.Duration `toml:"count_ttl"`

	// LookupCacheMB bounds the memory that keeps lookup answers ready
	// (about 270 bytes a record); 0 turns the cache off.
	LookupCacheMB int64 `toml:"lookup_cache_mb"`

	ReadHeaderTimeout time.Duration `toml:"read_header_timeout"`
	ReadTimeout       time.Duration `toml:"read_timeout"`
	WriteTimeout      time.Duration `toml:"write_timeout"`
	IdleTimeout       time.Duration `toml:"idle_timeout"`
	ShutdownTimeout   time.Duration `toml:"shutdown_timeout"`
	MaxHeaderBytes    int           `toml:"max_header_bytes"`
}

// DefaultListen is plain HTTP on loopback: put a TLS-terminating proxy in
// front, or set tls_cert and tls_key, before exposing the tracker.
const DefaultListen = "127.0.0.1:7070"

// Default returns the configuration an empty file gives.
func Default() File {
	d := server.DefaultConfig()
	return File{
		Listen:              DefaultListen,
		LogFormat:           "json",
		LogLevel:            "info",
		TrustedProxies:      []string{},
		MaxTTL:              d.MaxTTL,
		ReannounceFraction:  d.ReannounceFraction,
		ReannounceMin:       d.ReannounceMin,
		ReannounceMax:       d.ReannounceMax,
		PurgeGrace:          d.PurgeGrace,
		PurgeInterval:       d.PurgeInterval,
		RateLimit:           d.RateLimit,
		RateBurst:           d.RateBurst,
		RateLimitSources:    d.RateLimitSources,
		MaxBodyBytes:        d.MaxBodyBytes,
		DialbackTimeout:     d.DialbackTimeout,
		DialbackRate:        d.DialbackRate,
		DialbackBurst:       d.DialbackBurst,
		DialbackGlobalRate:  d.DialbackGlobalRate,
		DialbackGlobalBurst: d.DialbackGlobalBurst,
		DialbackMaxInFlight: d.DialbackMaxInFlight,
		OpsRateLimit:        d.OpsRateLimit,
		OpsRateBurst:        d.OpsRateBurst,
		CountTTL:            d.CountTTL,
		LookupCacheMB:       d.CacheBytes >> 20,
		ReadHeaderTimeout:   d.ReadHeaderTimeout,
		ReadTimeout:         d.ReadTimeout,
		WriteTimeout:        d.WriteTimeout,
		IdleTimeout:         d.IdleTimeout,
		ShutdownTimeout:     d.ShutdownTimeout,
		MaxHeaderBytes:      d.MaxHeaderBytes,
	}
}

// Load reads the file at path over the defaults. An empty path means no
// file.
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

// DefaultDB is where the database lives when db is not set: tracker.db in
// systemd's $STATE_DIRECTORY (the first one, if several), else in the
// working directory.
func DefaultDB(getenv func(string) string) string {
	if dir, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); dir != "" {
		return filepath.Join(dir, "tracker.db")
	}
	return "tracker.db"
}

// DBPath returns f.DB, or DefaultDB from the environment when unset.
func (f File) DBPath() string {
	if f.DB != "" {
		return f.DB
	}
	return DefaultDB(os.Getenv)
}

// Validate checks the settings that have no sensible fallback.
func (f File) Validate() error {
	var errs []error
	if f.Listen == "" {
		errs = append(errs, errors.New("listen is empty"))
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert and tls_key must be set together"))
	}
	if f.LogFormat != "json" && f.LogFormat != "console" {
		errs = append(errs, fmt.Errorf("log_format %q: want json or console", f.LogFormat))
	}
	if f.ReannounceFraction <= 0 || f.ReannounceFraction > 1 {
		errs = append(errs, fmt.Errorf("reannounce_fraction %v: want a number in (0, 1]", f.ReannounceFraction))
	}
	if f.DialbackTimeout < 0 {
		errs = append(errs, fmt.Errorf("dialback_timeout %v: want a duration, or 0 to turn dial-backs off", f.DialbackTimeout))
	}
	if f.LookupCacheMB < 0 {
		errs = append(errs, fmt.Errorf("lookup_cache_mb %d: want a size in MB, or 0 to turn the cache off", f.LookupCacheMB))
	}
	if _, err := f.proxies(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	return nil
}

// Server returns the server configuration f describes (without TLS, which
// the caller loads from TLSCert and TLSKey).
func (f File) Server() (server.Config, error) {
	if err := f.Validate(); err != nil {
		return server.Config{}, err
	}
	proxies, _ := f.proxies()
	return server.Config{
		MaxTTL:              f.MaxTTL,
		ReannounceFraction:  f.ReannounceFraction,
		ReannounceMin:       f.ReannounceMin,
		ReannounceMax:       f.ReannounceMax,
		PurgeGrace:          f.PurgeGrace,
		PurgeInterval:       f.PurgeInterval,
		TrustedProxies:      proxies,
		RateLimit:           f.RateLimit,
		RateBurst:           f.RateBurst,
		RateLimitSources:    f.RateLimitSources,
		MaxBodyBytes:        f.MaxBodyBytes,
		DialbackTimeout:     f.DialbackTimeout,
		DisableDialback:     f.DialbackTimeout == 0,
		DialbackRate:        f.DialbackRate,
		DialbackBurst:       f.DialbackBurst,
		DialbackGlobalRate:  f.DialbackGlobalRate,
		DialbackGlobalBurst: f.DialbackGlobalBurst,
		DialbackMaxInFlight: f.DialbackMaxInFlight,
		OpsRateLimit:        f.OpsRateLimit,
		OpsRateBurst:        f.OpsRateBurst,
		CountTTL:            f.CountTTL,
		CacheBytes:          cacheBytes(f.LookupCacheMB),
		ReadHeaderTimeout:   f.ReadHeaderTimeout,
		ReadTimeout:         f.ReadTimeout,
		WriteTimeout:        f.WriteTimeout,
		IdleTimeout:         f.IdleTimeout,
		ShutdownTimeout:     f.ShutdownTimeout,
		MaxHeaderBytes:      f.MaxHeaderBytes,
	}, nil
}

// cacheBytes maps lookup_cache_mb to server.Config.CacheBytes, where 0
// would mean the default and a negative size means off.
func cacheBytes(mb int64) int64 {
	if mb == 0 {
		return -1
	}
	return mb << 20
}

func (f File) proxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(f.TrustedProxies))
	for _, s := range f.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %q is neither a CIDR nor an IP address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
