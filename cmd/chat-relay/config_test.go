package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/relay/server"
)

// The example file in configs/ must show exactly the defaults.
func TestExampleFileIsTheDefaults(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "configs", "relay.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(f, want) {
		t.Fatalf("configs/relay.toml differs from the defaults:\n got %+v\nwant %+v", f, want)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := f.Server()
	want := server.DefaultConfig()
	cfg.Log = want.Log
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults do not give server.DefaultConfig:\n got %+v\nwant %+v", cfg, want)
	}
}

func writeFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "relay.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlagsOverrideFile(t *testing.T) {
	p := writeFile(t, "listen = \"127.0.0.1:9000\"\njoin_timeout = \"3s\"\nmax_sessions = 5\n")
	f, err := loadConfig([]string{"--config", p, "--listen", "127.0.0.1:9001", "--public-addr", "relay.example.org:7072"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Listen != "127.0.0.1:9001" || f.PublicAddr != "relay.example.org:7072" ||
		f.JoinTimeout != 3*time.Second || f.MaxSessions != 5 || f.IdleTimeout != server.DefaultIdleTimeout {
		t.Fatalf("got %+v", f)
	}
}

func TestLoadRefusesMistakes(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":  `max_session = 5`,
		"bad duration": `join_timeout = "soon"`,
		"wrong type":   `max_sessions = "many"`,
	} {
		if _, err := Load(writeFile(t, body)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if err := (File{Listen: "x:1", PublicAddr: "nohost", LogFormat: "json"}).Validate(); err == nil {
		t.Error("public_addr without a port accepted")
	}
}

func TestKeyFileCreatedPrivateAndReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", keyFileName)
	k, created, err := loadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	again, created, err := loadOrCreateKey(path)
	if err != nil || created || !again.Equal(k) {
		t.Fatalf("second start: created=%v err=%v same=%v", created, err, again.Equal(k))
	}
	os.Chmod(path, 0o640)
	if _, _, err := loadOrCreateKey(path); !errors.Is(err, identity.ErrInsecurePermissions) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key: %v, want ErrInsecurePermissions with a hint", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, _, err := loadOrCreateKey(path); !errors.Is(err, identity.ErrCorrupt) {
		t.Fatalf("corrupt key: %v, want ErrCorrupt", err)
	}
}
