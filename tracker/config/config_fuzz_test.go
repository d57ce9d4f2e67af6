package config

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/p2pchat/p2pchat/internal/tomlfile"
)

// FuzzLoad decodes arbitrary tracker.toml files over the defaults, as Load
// does (Default, then tomlfile.Load, which hands the file's bytes to
// tomlfile.Decode). Nothing may panic; every error wraps
// tomlfile.ErrInvalid; Server fails exactly when Validate does and never
// turns a set dialback_timeout into "dial-backs off"; and a file that
// decodes, written back as TOML, decodes to the same configuration.
func FuzzLoad(f *testing.F) {
	if ex, err := os.ReadFile("../../configs/tracker.toml"); err == nil {
		f.Add(ex)
	}
	f.Add([]byte("listen = \"127.0.0.1:9000\"\nmax_ttl = \"2h\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n"))
	f.Add([]byte("reannounce_fraction = 0\ndialback_timeout = \"-1s\"\n"))
	f.Add([]byte("listen_addr = \"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := Default()
		if err := tomlfile.Decode(data, &file); err != nil {
			if !errors.Is(err, tomlfile.ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			return
		}
		verr := file.Validate()
		cfg, serr := file.Server()
		if (verr == nil) != (serr == nil) {
			t.Fatalf("Validate says %v but Server says %v", verr, serr)
		}
		if serr == nil {
			if cfg.DisableDialback != (file.DialbackTimeout == 0) || len(cfg.TrustedProxies) != len(file.TrustedProxies) {
				t.Fatalf("Server() = %+v does not match the file %+v", cfg, file)
			}
		}
		enc := encodeTOML(t, file)
		again := Default()
		if err := tomlfile.Decode(enc, &again); err != nil {
			t.Fatalf("the loaded configuration, written back, does not load: %v\n%s", err, enc)
		}
		if enc2 := encodeTOML(t, again); !bytes.Equal(enc, enc2) {
			t.Fatalf("load/write not stable:\n%s\n---\n%s", enc, enc2)
		}
	})
}

func encodeTOML(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatalf("encode %+v: %v", v, err)
	}
	return buf.Bytes()
}
