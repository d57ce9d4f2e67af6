package tomlfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	type C struct {
		A int    `toml:"a"`
		B string `toml:"b"`
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := C{A: 1, B: "default"}
	if err := Load(write("ok.toml", "a = 2\n"), &c); err != nil || c.A != 2 || c.B != "default" {
		t.Fatalf("over the defaults: %+v %v", c, err)
	}
	err := Load(write("typo.toml", "a = 3\nbb = \"x\"\nc = 1\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "unknown keys: bb, c") || !strings.Contains(err.Error(), "typo.toml") {
		t.Fatalf("unknown keys: %v", err)
	}
	if err := Load(filepath.Join(dir, "missing.toml"), &c); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := Load(write("bad.toml", "a = \n"), &c); err == nil {
		t.Fatal("a syntax error was accepted")
	}
}
