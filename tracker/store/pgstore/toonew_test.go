package pgstore_test

import (
	"errors"
	"testing"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/internal/migrate"
)

// A database migrated by a newer chat-tracker is refused, not written to.
func TestRefusesNewerSchema(t *testing.T) {
	leakcheck.Check(t)
	url, schema := freshSchema(t)
	st, err := openStore(url, schema)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	admin(t, url, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES (999, '0999_future.sql')")
	st, err = openStore(url, schema)
	if err == nil {
		st.Close()
		t.Fatal("a store with schema version 999 opened")
	}
	if !errors.Is(err, migrate.ErrTooNew) {
		t.Fatalf("open: %v, want ErrTooNew", err)
	}
}
