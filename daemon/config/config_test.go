package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsFollowXDG(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/x/data")
	t.Setenv("XDG_CONFIG_HOME", "/x/config")
	t.Setenv("XDG_RUNTIME_DIR", "/x/run")
	d := Default()
	if d.DataDir != "/x/data/chatd" || d.ControlSocket != "/x/run/chatd/control.sock" || DefaultPath() != "/x/config/chatd/chatd.toml" {
		t.Fatalf("defaults do not follow XDG: %+v %s", d, DefaultPath())
	}
}

func TestLoadOverridesDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "chatd.toml")
	os.WriteFile(p, []byte("name = \"alice\"\nlisten = \"127.0.0.1:9000\"\n[peer]\nkeepalive = \"3s\"\n"), 0o600)
	c, err := Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "alice" || c.Listen != "127.0.0.1:9000" || c.Peer.KeepAlive.Duration != 3*time.Second {
		t.Fatalf("file values not applied: %+v", c)
	}
	if c.Peer.IdleTimeout.Duration != 5*time.Minute || c.Tracker == "" {
		t.Fatalf("unset keys lost their defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.toml"), false); err != nil {
		t.Fatalf("missing default file should not be an error: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), true); err == nil {
		t.Fatal("missing explicit file accepted")
	}
	p := filepath.Join(dir, "typo.toml")
	os.WriteFile(p, []byte("nmae = \"alice\"\n"), 0o600)
	if _, err := Load(p, true); err == nil || !strings.Contains(err.Error(), "nmae") {
		t.Fatalf("unknown key not reported by name: %v", err)
	}
	p2 := filepath.Join(dir, "bad.toml")
	os.WriteFile(p2, []byte("[peer]\nkeepalive = \"soon\"\n"), 0o600)
	if _, err := Load(p2, true); err == nil {
		t.Fatal("bad duration accepted")
	}
	if err := Default().Validate(); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("missing name not explained: %v", err)
	}
}

// The example file documents the defaults: loading it must change nothing.
func TestExampleConfigMatchesDefaults(t *testing.T) {
	c, err := Load("../../configs/chatd.toml", true)
	if err != nil {
		t.Fatalf("configs/chatd.toml does not load: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("configs/chatd.toml disagrees with Default():\nfile:    %+v\ndefault: %+v", c, Default())
	}
}

// $CHATD_SOCKET moves chatd's socket as it moves chatctl's (api.SocketPath).
func TestControlSocketHonoursCHATD_SOCKET(t *testing.T) {
	t.Setenv("CHATD_SOCKET", "/tmp/elsewhere.sock")
	if got := Default().ControlSocket; got != "/tmp/elsewhere.sock" {
		t.Fatalf("ControlSocket = %q with CHATD_SOCKET set", got)
	}
}
