package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The example file in configs/ must show exactly the defaults.
func TestExampleFileIsTheDefaults(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "configs", "tracker.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(f, want) {
		t.Fatalf("configs/tracker.toml differs from the defaults:\n got %+v\nwant %+v", f, want)
	}
	if _, err := f.Server(); err != nil {
		t.Fatalf("defaults do not make a server config: %v", err)
	}
}

func writeConfig(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "tracker.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadOverridesDefaults(t *testing.T) {
	f, err := Load(writeConfig(t, `
listen = "127.0.0.1:9000"
max_ttl = "2h"
trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Server()
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "127.0.0.1:9000" || cfg.MaxTTL != 2*time.Hour || cfg.RateBurst != Default().RateBurst {
		t.Fatalf("got listen %s max_ttl %v burst %d", f.Listen, cfg.MaxTTL, cfg.RateBurst)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if !reflect.DeepEqual(cfg.TrustedProxies, want) {
		t.Fatalf("trusted proxies %v, want %v", cfg.TrustedProxies, want)
	}
}

func TestLoadRefusesMistakes(t *testing.T) {
	cases := map[string]string{
		"unknown key":  `listen_addr = "x"`,
		"bad duration": `max_ttl = "a day"`,
		"wrong type":   `rate_burst = "many"`,
	}
	for name, body := range cases {
		if _, err := Load(writeConfig(t, body)); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
	invalid := map[string]string{
		"half tls":   `tls_cert = "c.pem"`,
		"log format": `log_format = "xml"`,
		"bad proxy":  `trusted_proxies = ["example.org"]`,
		"fraction":   `reannounce_fraction = 2.0`,
	}
	for name, body := range invalid {
		f, err := Load(writeConfig(t, body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := f.Server(); err == nil || !strings.Contains(err.Error(), "invalid config") {
			t.Errorf("%s: Server() = %v, want an invalid config error", name, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Error("a missing file loaded without error")
	}
}

func TestDefaultDB(t *testing.T) {
	env := map[string]string{"STATE_DIRECTORY": "/var/lib/chat-tracker:/var/lib/other"}
	if got := DefaultDB(func(k string) string { return env[k] }); got != "/var/lib/chat-tracker/tracker.db" {
		t.Errorf("with STATE_DIRECTORY: %s", got)
	}
	if got := DefaultDB(func(string) string { return "" }); got != "tracker.db" {
		t.Errorf("without STATE_DIRECTORY: %s", got)
	}
}

func TestLookupCacheMB(t *testing.T) {
	for body, want := range map[string]int64{
		``:                       320 << 20,
		`lookup_cache_mb = 1024`: 1 << 30,
		`lookup_cache_mb = 0`:    -1, // off
	} {
		f, err := Load(writeConfig(t, body))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := f.Server()
		if err != nil || cfg.CacheBytes != want {
			t.Errorf("%q: CacheBytes %d (%v), want %d", body, cfg.CacheBytes, err, want)
		}
	}
	f, _ := Load(writeConfig(t, `lookup_cache_mb = -1`))
	if _, err := f.Server(); err == nil {
		t.Error("a negative lookup_cache_mb was accepted")
	}
}
