package config

import (
	"strings"
	"testing"
	"time"
)

func TestDialbackKeys(t *testing.T) {
	cfg, err := Default().Server()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DisableDialback || cfg.DialbackTimeout != 1500*time.Millisecond {
		t.Fatalf("defaults: disabled %v timeout %v, want on with 1.5s", cfg.DisableDialback, cfg.DialbackTimeout)
	}
	f, err := Load(writeConfig(t, "dialback_timeout = \"0s\"\ndialback_burst = 2\ndialback_max_in_flight = 8\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = f.Server(); err != nil {
		t.Fatal(err)
	}
	if !cfg.DisableDialback || cfg.DialbackBurst != 2 || cfg.DialbackMaxInFlight != 8 {
		t.Fatalf("dialback_timeout 0: disabled %v burst %d in flight %d", cfg.DisableDialback, cfg.DialbackBurst, cfg.DialbackMaxInFlight)
	}
	f, err = Load(writeConfig(t, `dialback_timeout = "-1s"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Server(); err == nil || !strings.Contains(err.Error(), "dialback_timeout") {
		t.Fatalf("a negative dialback_timeout: %v, want refused", err)
	}
}
