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
	if err := Load(write("bad.toml", "a = \n"), &c); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a syntax error: %v, want ErrInvalid", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown keys: %v, want ErrInvalid", err)
	}
	if err := Load(dir, &c); err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("a directory: %v, want a read error", err)
	}
}

func TestLoadRefusesHugeFile(t *testing.T) {
	type C struct {
		A string `toml:"a"`
	}
	p := filepath.Join(t.TempDir(), "huge.toml")
	big := "a = \"" + strings.Repeat("x", MaxSize) + "\"\n"
	if err := os.WriteFile(p, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	var c C
	err := Load(p, &c)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than") || c.A != "" {
		t.Fatalf("file over MaxSize: %v (decoded %d bytes)", err, len(c.A))
	}
	if err := Decode([]byte(big[:MaxSize-2]+"\"\n"), &c); err != nil || len(c.A) != MaxSize-7 {
		t.Fatalf("file of exactly MaxSize: %v", err)
	}
}
