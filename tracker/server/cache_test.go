package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/p2pchat/p2pchat/internal/testenv"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/pgstore"
)

// lookupRecord looks name up and returns the record, or nil and the status.
func (tt *testTracker) lookupRecord(t *testing.T, name string) (*record.Signed, int) {
	t.Helper()
	r := tt.do(t, "GET", "/v1/users/"+name, nil)
	if r.status != http.StatusOK {
		return nil, r.status
	}
	return r.userBody(t).Record, r.status
}

// TestCacheFollowsEveryWrite reads alice into the cache and then changes
// her every way there is, through the API and straight through the store:
// each lookup after a write must show it.
func TestCacheFollowsEveryWrite(t *testing.T) {
	tt := startTracker(t, Config{})
	alice, newKey, other := key(1), key(2), key(3)
	tt.register(t, tt.signed(t, alice, "alice", 1))
	want := func(what string, seq uint64, k []byte) {
		t.Helper()
		for range 2 { // a fill, then a hit
			got, status := tt.lookupRecord(t, "alice")
			if got == nil || got.Seq != seq || !bytes.Equal(got.PublicKey, pubOf(k)) || got.Verify() != nil {
				t.Fatalf("lookup %s: status %d record %+v, want seq %d", what, status, got, seq)
			}
		}
	}
	want("after register", 1, alice)
	if tt.srv.cache.Stats().Entries != 1 {
		t.Fatalf("the cache holds %d records after a lookup, want 1", tt.srv.cache.Stats().Entries)
	}

	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, tt.signed(t, alice, "alice", 2), nil)); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	want("after update", 2, alice)

	rot := tt.signed(t, newKey, "alice", 3)
	if r := tt.do(t, "PUT", "/v1/users/alice", updateBody(t, rot, record.SignRotation(rot.Record, alice))); r.status != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	want("after rotation", 3, newKey)

	direct := tt.signed(t, newKey, "alice", 4)
	if err := tt.store.Update(context.Background(), toStore(direct), pubOf(newKey)); err != nil {
		t.Fatal(err)
	}
	want("after a write straight to the store", 4, newKey)

	tt.clock.Advance(2 * time.Hour)
	if r := tt.do(t, "GET", "/v1/users/alice", nil); r.status != http.StatusGone || r.errBody(t).Record.Seq != 4 {
		t.Fatalf("lookup of the cached record once expired: %d %s, want 410 with seq 4", r.status, r.body)
	}
	tt.clock.Advance(-2 * time.Hour)

	if r := tt.do(t, "DELETE", "/v1/users/alice", deleteBody(t, newKey, "alice", 5)); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if _, status := tt.lookupRecord(t, "alice"); status != http.StatusNotFound {
		t.Fatalf("lookup after delete: %d, want 404", status)
	}
	tt.register(t, tt.signed(t, other, "alice", 1))
	want("after another key took the name", 1, other)
}

// TestCacheBounded looks up far more records than the cache may hold: it
// stays within its budget, and every answer is still right.
func TestCacheBounded(t *testing.T) {
	const budget = 256 << 10 // a few hundred records
	tt := &testTracker{store: openStore(t), clock: newClock()}
	srv, err := New(Config{Now: tt.clock.Now, RateLimit: 1e9, RateBurst: 1e9, CacheBytes: budget}, tt.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	const users = 3000
	priv := key(1)
	for i := range users {
		if err := tt.store.Create(context.Background(), toStore(tt.signed(t, priv, fmt.Sprintf("user%04d", i), uint64(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	h := srv.Handler()
	for pass := range 2 {
		for i := range users {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", fmt.Sprintf("/v1/users/user%04d", i), nil))
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), fmt.Sprintf(`"seq":%d,`, i+1)) {
				t.Fatalf("pass %d, user %d: %d %s", pass, i, w.Code, w.Body)
			}
		}
	}
	st := srv.cache.Stats()
	if st.Bytes > budget || st.Entries == 0 || st.Entries >= users {
		t.Fatalf("cache of budget %d holds %d records in %d bytes", budget, st.Entries, st.Bytes)
	}
	if st.Arena > budget*5/4+256*4096 { // a quarter of slack, and at most a page a shard
		t.Fatalf("cache arenas take %d bytes for a budget of %d", st.Arena, budget)
	}
}

// lagStore is a store whose reports of other processes' writes are as
// late as the test says, and which counts its reads.
type lagStore struct {
	store.Watcher
	lag  atomic.Int64
	gets atomic.Int64
}

func (s *lagStore) Lag() time.Duration { return time.Duration(s.lag.Load()) }

func (s *lagStore) Get(ctx context.Context, name string) (store.Record, error) {
	s.gets.Add(1)
	return s.Watcher.Get(ctx, name)
}

// TestCacheBypassedWhileStoreLags: while the store cannot vouch for its
// reports (Lag beyond CacheMaxLag), every lookup reads the store.
func TestCacheBypassedWhileStoreLags(t *testing.T) {
	st := &lagStore{Watcher: openStore(t).(store.Watcher)}
	tt := &testTracker{clock: newClock()}
	srv, err := New(Config{Now: tt.clock.Now, RateLimit: 1e9, RateBurst: 1e9, CacheMaxLag: time.Second}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Create(context.Background(), toStore(tt.signed(t, key(1), "alice", 1))); err != nil {
		t.Fatal(err)
	}
	lookups := func(n int) int64 {
		before := st.gets.Load()
		for range n {
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/v1/users/alice", nil))
			if w.Code != http.StatusOK {
				t.Fatalf("lookup: %d %s", w.Code, w.Body)
			}
		}
		return st.gets.Load() - before
	}
	if n := lookups(5); n != 0 { // the store handed the cache what it wrote
		t.Errorf("5 lookups with the store current read it %d times, want none", n)
	}
	st.lag.Store(int64(2 * time.Second))
	if n := lookups(5); n != 5 {
		t.Errorf("5 lookups with the store 2s behind read it %d times, want 5", n)
	}
}

// TestTwoTrackersOnePostgres is two tracker processes on one database:
// after a write on one, the other's lookups show it within a second
// (CacheMaxLag's promise), though it had the old record cached.
func TestTwoTrackersOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs PostgreSQL")
	}
	url := testenv.PostgresURL(t)
	checkLeaks(t)
	schema := "t_" + strings.ToLower(rand.Text()[:16])
	admin, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	a, b := startPGTracker(t, url, schema), startPGTracker(t, url, schema)

	alice, newKey := key(1), key(2)
	a.register(t, a.signed(t, alice, "alice", 1))
	seen := func(what string, ok func(*record.Signed, int) bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			rec, status := b.lookupRecord(t, "alice")
			if ok(rec, status) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s on one tracker: the other still answers %d %+v after a second", what, status, rec)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	seen("register", func(r *record.Signed, _ int) bool { return r != nil && r.Seq == 1 })
	b.lookupRecord(t, "alice") // cached on b now
	if b.srv.cache.Stats().Entries != 1 {
		t.Fatal("the second tracker did not cache the record")
	}

	if r := a.do(t, "PUT", "/v1/users/alice", updateBody(t, a.signed(t, alice, "alice", 2), nil)); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	seen("update", func(r *record.Signed, _ int) bool { return r != nil && r.Seq == 2 })

	rot := a.signed(t, newKey, "alice", 3)
	if r := a.do(t, "PUT", "/v1/users/alice", updateBody(t, rot, record.SignRotation(rot.Record, alice))); r.status != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	seen("rotation", func(r *record.Signed, _ int) bool { return r != nil && bytes.Equal(r.PublicKey, pubOf(newKey)) })

	if r := a.do(t, "DELETE", "/v1/users/alice", deleteBody(t, newKey, "alice", 4)); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	seen("delete", func(_ *record.Signed, status int) bool { return status == http.StatusNotFound })
}

// startPGTracker runs a tracker on a pgstore in schema.
func startPGTracker(t *testing.T, url, schema string) *testTracker {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	st, err := pgstore.OpenConfig(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return startTrackerOn(t, st, Config{})
}
