package config

import (
	"os"
	"path/filepath"
	"testing"
)

// Under systemd the unit's StateDirectory= wins over XDG_STATE_HOME.
func TestDefaultDataDirFromSystemd(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/x/state")
	t.Setenv("STATE_DIRECTORY", "/home/u/.local/state/chatd")
	if got := DefaultDataDir(); got != "/home/u/.local/state/chatd" {
		t.Errorf("DefaultDataDir = %s", got)
	}
	t.Setenv("XDG_DATA_HOME", "/x/data")
	if got := LegacyDataDir(); got != "/x/data/chatd" {
		t.Errorf("LegacyDataDir = %s", got)
	}
}

// Data in the legacy directory moves to the new one once, private, and
// leaves nothing behind; a directory that already has a key is left alone.
func TestMigrateLegacy(t *testing.T) {
	root := t.TempDir()
	old, dir := filepath.Join(root, "share/chatd"), filepath.Join(root, "state/chatd")
	os.MkdirAll(old, 0o700)
	for f, body := range map[string]string{"identity.key": "KEY", "chatd.db": "DB", "chatd.db-wal": "WAL", "chatd.db-shm": "SHM"} {
		os.WriteFile(filepath.Join(old, f), []byte(body), 0o600)
	}
	moved, leftover, err := MigrateLegacy(old, dir)
	if err != nil || leftover != nil || !moved {
		t.Fatalf("MigrateLegacy = %v, %v, %v", moved, leftover, err)
	}
	for f, body := range map[string]string{"identity.key": "KEY", "chatd.db": "DB", "chatd.db-wal": "WAL"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		fi, _ := os.Stat(filepath.Join(dir, f))
		if err != nil || string(b) != body || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q, %v", f, b, err)
		}
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("legacy directory still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "chatd.db-shm")); !os.IsNotExist(err) {
		t.Errorf("the shared-memory index was copied: %v", err)
	}

	os.MkdirAll(old, 0o700)
	os.WriteFile(filepath.Join(old, "identity.key"), []byte("OTHER"), 0o600)
	if moved, _, err := MigrateLegacy(old, dir); moved || err != nil {
		t.Fatalf("second MigrateLegacy = %v, %v", moved, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "identity.key")); string(b) != "KEY" {
		t.Errorf("key overwritten: %q", b)
	}
	if moved, _, err := MigrateLegacy(filepath.Join(root, "none"), filepath.Join(root, "fresh")); moved || err != nil {
		t.Errorf("nothing to move: %v, %v", moved, err)
	}
}

func TestAccount(t *testing.T) {
	dir := t.TempDir()
	if a, err := ReadAccount(dir); err != nil || a != (Account{}) {
		t.Fatalf("no file: %+v, %v", a, err)
	}
	want := Account{Name: "alice", Tracker: "https://tracker.example"}
	if err := WriteAccount(dir, want); err != nil {
		t.Fatal(err)
	}
	if a, err := ReadAccount(dir); err != nil || a != want {
		t.Fatalf("ReadAccount = %+v, %v", a, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, AccountFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("account file mode %v", fi.Mode().Perm())
	}

	c := Default()
	c.ApplyAccount(want, false)
	if c.Name != "alice" || c.Tracker != want.Tracker {
		t.Errorf("applied: %s %s", c.Name, c.Tracker)
	}
	c = Default()
	c.Tracker = "http://flag"
	c.ApplyAccount(want, true)
	if c.Name != "alice" || c.Tracker != "http://flag" {
		t.Errorf("--tracker must win: %s %s", c.Name, c.Tracker)
	}
	c = Default()
	c.Name = "bob"
	c.ApplyAccount(want, false)
	if c.Name != "bob" || c.Tracker == want.Tracker {
		t.Errorf("a configured name must win: %s %s", c.Name, c.Tracker)
	}
}
