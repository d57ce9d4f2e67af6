package migrate

import (
	"errors"
	"fmt"
	"testing"
	"testing/fstest"
)

func TestLoadOrdersByVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_add_index.sql": {Data: []byte("CREATE INDEX i ON t (x);")},
		"m/0001_init.sql":      {Data: []byte("CREATE TABLE t (x);")},
		"m/README.md":          {Data: []byte("not a migration")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "0001_init.sql" || ms[1].Version != 2 {
		t.Fatalf("Load = %+v, want 0001_init.sql then version 2", ms)
	}
	if ms[0].SQL != "CREATE TABLE t (x);" {
		t.Fatalf("SQL = %q", ms[0].SQL)
	}
}

func TestLoadRefusesMistakes(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap": {
			"m/0001_a.sql": {}, "m/0003_c.sql": {},
		},
		"duplicate": {
			"m/0001_a.sql": {}, "m/0001_b.sql": {},
		},
		"starts at 2": {
			"m/0002_a.sql": {},
		},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
	_, err := Load(fstest.MapFS{"m/init.sql": {}}, "m")
	if !errors.Is(err, ErrBadName) {
		t.Errorf("unnumbered file: err = %v, want ErrBadName", err)
	}
}

func FuzzParseName(f *testing.F) {
	for _, seed := range []string{"0001_init.sql", "0002_x.sql", "1_a.sql", "0000_zero.sql",
		"0001.sql", "_a.sql", "0001_a.txt", "-1_a.sql", "99999999999999999999_a.sql", "0x1_a.sql", "+1_a.sql"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := ParseName(name)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("%q: error %v does not wrap ErrBadName", name, err)
			}
			return
		}
		if v <= 0 {
			t.Fatalf("%q parsed as non-positive version %d", name, v)
		}
		// An accepted name always renders back to the same number.
		var n int
		var label string
		if _, err := fmt.Sscanf(name, "%d_%s", &n, &label); err != nil || n != v {
			t.Fatalf("%q parsed as %d, but reads as %d (%v)", name, v, n, err)
		}
	})
}
