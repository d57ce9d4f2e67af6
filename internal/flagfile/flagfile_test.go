package flagfile

import (
	"flag"
	"testing"
)

func TestOverrideOnlyWhatWasGiven(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("listen", ":1", "")
	fs.String("db", "default.db", "")
	if err := fs.Parse([]string{"--listen", ":2"}); err != nil {
		t.Fatal(err)
	}
	listen, db := ":from-file", "file.db"
	Override(fs, map[string]*string{"listen": &listen, "db": &db})
	if listen != ":2" || db != "file.db" {
		t.Fatalf("listen %q db %q, want the flag's :2 and the file's file.db", listen, db)
	}
}

func TestOverridePanicsOnUnknownFlag(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a misspelt flag name did not panic")
		}
	}()
	var s string
	Override(flag.NewFlagSet("t", flag.ContinueOnError), map[string]*string{"lsiten": &s})
}
