package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/p2pchat/p2pchat/internal/migrate"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
)

// A database migrated by a newer chat-tracker is refused, not written to.
func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracker.db")
	open(t, path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err := sqlitestore.Open(context.Background(), path, nil)
	if err == nil {
		st.Close()
		t.Fatal("a store with schema version 999 opened")
	}
	if !errors.Is(err, migrate.ErrTooNew) {
		t.Fatalf("open: %v, want ErrTooNew", err)
	}
}
