package main

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/p2pchat/p2pchat/internal/tomlfile"
	"github.com/p2pchat/p2pchat/relay/server"
)

// FuzzLoad decodes arbitrary relay.toml files over the defaults, as Load
// does (Default, then tomlfile.Load, which hands the file's bytes to
// tomlfile.Decode). Nothing may panic: not the decoding, not Validate, not
// server.New on a configuration that passed Validate (which checks the
// limits itself and must refuse, not crash). Every error wraps
// tomlfile.ErrInvalid, and a file that decodes, written back as TOML,
// decodes to the same configuration.
func FuzzLoad(f *testing.F) {
	if ex, err := os.ReadFile("../../configs/relay.toml"); err == nil {
		f.Add(ex)
	}
	f.Add([]byte("listen = \"127.0.0.1:7072\"\npublic_addr = \"relay.example.org:443\"\nsession_rate = 1e6\n"))
	f.Add([]byte("max_sessions = -1\nkeepalive = \"0s\"\n"))
	f.Add([]byte("public_addr = \"no port\"\n"))
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := Default()
		if err := tomlfile.Decode(data, &file); err != nil {
			if !errors.Is(err, tomlfile.ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			return
		}
		if file.Validate() == nil {
			cfg := file.Server()
			cfg.Key = key
			_, _ = server.New(cfg)
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
