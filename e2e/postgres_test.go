package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/testenv"

	"github.com/jackc/pgx/v5"
)

// Two stateless chat-tracker processes on one PostgreSQL database: a
// user registered through one is found through the other, and daemons
// on different trackers talk.
func TestTwoTrackersOnPostgres(t *testing.T) {
	dsn := postgresSchema(t)
	e := newEnv(t)
	tr1 := e.startTrackerAt(freeAddr(t), dsn)
	tr2 := e.startTrackerAt(freeAddr(t), dsn)

	alice := e.startDaemon("alice", tr1.url)
	st, _ := alice.status()
	rec := lookupRecord(t, tr2.url, "alice")
	if rec.Name != "alice" || rec.PublicKey != st.PublicKey {
		t.Fatalf("tracker 2 has %+v for alice, want her key %s", rec, st.PublicKey)
	}

	bob := e.startDaemon("bob", tr2.url)
	alice.must("send", "--wait", "bob", "via tracker 1")
	bob.must("send", "--wait", "alice", "via tracker 2")
	alice.waitBodies("bob", []string{"out:via tracker 1", "in:via tracker 2"})
	bob.waitBodies("alice", []string{"in:via tracker 1", "out:via tracker 2"})
}

type trackerRecord struct {
	Name      string   `json:"name"`
	PublicKey string   `json:"public_key"`
	Addrs     []string `json:"addrs"`
}

func lookupRecord(t *testing.T, trackerURL, name string) trackerRecord {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(trackerURL + "/v1/users/" + name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	defer resp.Body.Close()
	var body struct {
		Record trackerRecord `json:"record"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		t.Fatalf("look up %s on %s: status %s", name, trackerURL, resp.Status)
	}
	return body.Record
}

// postgresSchema makes a schema of its own in the test database (dropped
// in Cleanup) and returns a DSN whose search_path puts the trackers'
// tables there, so parallel runs never see each other's rows.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to P2PCHAT_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	schema := "e2e_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("P2PCHAT_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
