package pgstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/tracker/store/pgstore"
	"github.com/p2pchat/p2pchat/tracker/store/storetest"
)

// synced waits until a ping sent after now has come back: Lag alone says
// little right after Open, when it counts from the Open.
func synced(t *testing.T, st *pgstore.Store) {
	t.Helper()
	t0 := time.Now()
	waitFor(t, "the listener synced", func() bool { return st.Lag() < time.Since(t0) })
}

// waitFor polls cond for up to a second, the staleness the cache promises.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a second", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchHearsOtherProcess: a write through one store reaches the other
// store's watcher by name, within a second; neither hears its own writes
// twice.
func TestWatchHearsOtherProcess(t *testing.T) {
	leakcheck.Check(t)
	url, schema := freshSchema(t)
	a, b := openIn(t, url, schema), openIn(t, url, schema)
	var invA, invB storetest.Invalidations
	a.Watch(&invA)
	b.Watch(&invB)
	synced(t, a)
	synced(t, b)
	invA.Names()
	invB.Names()

	if err := a.Create(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 1)); err != nil {
		t.Fatal(err)
	}
	if got := invA.Names(); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("the writer reported %q, want [alice]", got)
	}
	var heard []string
	waitFor(t, "the other store hears of the write", func() bool {
		heard = append(heard, invB.Names()...)
		return slices.Contains(heard, "alice")
	})
	// Let a ping go round: the writer must not hear its own write back.
	synced(t, a)
	if got := invA.Names(); len(got) != 0 {
		t.Fatalf("the writer heard its own write again: %q", got)
	}
	// A name that is not text survives the trip.
	odd := "a\x00\xff b"
	if err := a.Create(t.Context(), storetest.NewRecord(odd, storetest.Key(2), 1)); err != nil {
		t.Fatal(err)
	}
	heard = nil
	waitFor(t, "the other store hears of an odd name", func() bool {
		heard = append(heard, invB.Names()...)
		return slices.Contains(heard, odd)
	})
}

// TestListenerReconnects kills the listener's connection: the store must
// dial again, report InvalidateAll (it cannot know what it missed), and
// get Lag back under a second.
func TestListenerReconnects(t *testing.T) {
	leakcheck.Check(t)
	url, schema := freshSchema(t)
	app := "pgstore_test_" + rand.Text()[:8]
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	st, err := pgstore.OpenConfig(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var inv storetest.Invalidations
	st.Watch(&inv)
	synced(t, st)
	before := inv.All()

	var killed int
	err = adminPool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE '%pg_notify%'`, app).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listener connections (%v), want 1", killed, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for inv.All() == before || st.Lag() > 500*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("after losing its connection: %d InvalidateAll (was %d), Lag %v", inv.All(), before, st.Lag())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatchHearsBulkUpdate: updates that go as one statement are
// announced in a few notifications of many names (split before
// PostgreSQL's payload limit), and the other store hears every name.
func TestWatchHearsBulkUpdate(t *testing.T) {
	leakcheck.Check(t)
	url, schema := freshSchema(t)
	a, b := openIn(t, url, schema), openIn(t, url, schema)
	const users = 300
	name := func(i int) string { return fmt.Sprintf("%029d%03d", 0, i) } // 32 bytes, 64 in hex
	for i := range users {
		if err := a.Create(t.Context(), storetest.NewRecord(name(i), storetest.Key(1), 1)); err != nil {
			t.Fatal(err)
		}
	}
	var inv storetest.Invalidations
	b.Watch(&inv)
	synced(t, b)
	inv.Names()
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			if err := a.Update(t.Context(), storetest.NewRecord(name(i), storetest.Key(1), 2), storetest.Key(1)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	heard := map[string]bool{}
	waitFor(t, "the other store hears every name", func() bool {
		for _, n := range inv.Names() {
			heard[n] = true
		}
		return len(heard) == users
	})
}
