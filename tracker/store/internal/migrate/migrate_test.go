package migrate

import (
	"errors"
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
