package config

import (
	"os"
	"path/filepath"
	"testing"
)

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
