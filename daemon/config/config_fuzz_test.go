package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/p2pchat/p2pchat/internal/tomlfile"
)

// FuzzLoad decodes arbitrary chatd.toml files over the defaults, as Load
// does (Load is Default, then tomlfile.Load, which reads the file and
// hands it to tomlfile.Decode). Nothing may panic; every error wraps
// tomlfile.ErrInvalid; a file that decodes can be validated, and its
// configuration written back as TOML decodes to the same configuration.
func FuzzLoad(f *testing.F) {
	if ex, err := os.ReadFile("../../configs/chatd.toml"); err == nil {
		f.Add(ex)
	}
	f.Add([]byte("name = \"alice\"\n[peer]\nkeepalive = \"3s\"\n"))
	f.Add([]byte("[portmap]\nexternal_port = 65536\n"))
	f.Add([]byte("nmae = \"alice\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Default()
		if err := tomlfile.Decode(data, &cfg); err != nil {
			if !errors.Is(err, tomlfile.ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			return
		}
		_ = cfg.Validate()
		enc := encodeTOML(t, cfg)
		again := Default()
		if err := tomlfile.Decode(enc, &again); err != nil {
			t.Fatalf("the loaded configuration, written back, does not load: %v\n%s", err, enc)
		}
		if enc2 := encodeTOML(t, again); !bytes.Equal(enc, enc2) {
			t.Fatalf("load/write not stable:\n%s\n---\n%s", enc, enc2)
		}
	})
}

// FuzzReadAccount reads arbitrary account.toml files (written by chatctl
// init, but the user may edit it). Nothing may panic, and an account that
// reads is written back by WriteAccount and read again unchanged.
func FuzzReadAccount(f *testing.F) {
	f.Add([]byte("name = \"alice\"\ntracker = \"https://tracker.example\"\n"))
	f.Add([]byte("name = 7\n"))
	f.Add([]byte(""))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		writeFile(t, filepath.Join(dir, AccountFile), data)
		a, err := ReadAccount(dir)
		if err != nil {
			return
		}
		out := filepath.Join(dir, "out")
		if err := WriteAccount(out, a); err != nil {
			t.Fatal(err)
		}
		if b, err := ReadAccount(out); err != nil || b != a {
			t.Fatalf("account %+v written and read back as %+v, %v", a, b, err)
		}
	})
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func encodeTOML(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatalf("encode %+v: %v", v, err)
	}
	return buf.Bytes()
}
