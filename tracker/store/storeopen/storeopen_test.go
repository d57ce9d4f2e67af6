package storeopen_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/internal/testenv"

	"github.com/jackc/pgx/v5"

	"github.com/p2pchat/p2pchat/tracker/store/pgstore"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
	"github.com/p2pchat/p2pchat/tracker/store/storeopen"
	"github.com/p2pchat/p2pchat/tracker/store/storetest"
)

func TestOpenSQLiteCreatesParentDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "lib", "tracker.db")
	st, err := storeopen.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	if _, ok := st.(*sqlitestore.Store); !ok {
		t.Fatalf("Open(%q) gave %T, want *sqlitestore.Store", path, st)
	}
	if err := st.Create(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no database file at %s: %v", path, err)
	}
}

func TestOpenEmpty(t *testing.T) {
	if _, err := storeopen.Open(t.Context(), "", nil); !errors.Is(err, storeopen.ErrEmptyDSN) {
		t.Fatalf("Open(\"\"): %v, want ErrEmptyDSN", err)
	}
}

func TestIsPostgres(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u:p@127.0.0.1/db":  true,
		"postgresql://127.0.0.1/db":    true,
		"POSTGRES://127.0.0.1/db":      true,
		"/var/lib/tracker/tracker.db":  false,
		"tracker.db":                   false,
		"postgres.db":                  false,
		"./postgres://not-a-url/x.db":  false,
		"sqlite:///var/lib/tracker.db": false,
	} {
		if got := storeopen.IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %v, want %v", dsn, got, want)
		}
	}
}

func TestOpenPostgres(t *testing.T) {
	url := testenv.PostgresURL(t)
	// pgx passes unknown URL parameters to the server as settings, so a
	// search_path parameter keeps this test's tables in its own schema.
	schema := "t_" + strings.ToLower(rand.Text()[:16])
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	st, err := storeopen.Open(t.Context(), url+sep+"search_path="+schema, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	if _, ok := st.(*pgstore.Store); !ok {
		t.Fatalf("Open(postgres URL) gave %T, want *pgstore.Store", st)
	}
	if _, err := st.Count(t.Context()); err != nil {
		t.Fatalf("Count: %v", err)
	}
}
