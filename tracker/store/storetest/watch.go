package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/store"
)

// Invalidations is a store.Invalidator that remembers what it was told,
// for tests of a Watcher.
type Invalidations struct {
	mu    sync.Mutex
	names []string
	all   int
}

// Invalidate implements store.Invalidator.
func (i *Invalidations) Invalidate(name string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.names = append(i.names, name)
}

// InvalidateAll implements store.Invalidator.
func (i *Invalidations) InvalidateAll() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.all++
}

// Names returns the names reported so far and forgets them.
func (i *Invalidations) Names() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	n := i.names
	i.names = nil
	return n
}

// All is how many times InvalidateAll was called.
func (i *Invalidations) All() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.all
}

// Refreshes is Invalidations that is also a store.Refresher: it remembers
// the records it is offered, by name, in Names as well.
type Refreshes struct {
	Invalidations
	recs []store.Record
}

// Refresh implements store.Refresher.
func (r *Refreshes) Refresh(rec store.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

// Records returns the records offered so far and forgets them.
func (r *Refreshes) Records() []store.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.recs
	r.recs = nil
	return recs
}

// testWatchRefresh: a watcher that can keep records is offered each record
// the store commits (as Get would return it), and told only the name of a
// deletion or of a write that failed.
func testWatchRefresh(t *testing.T, st store.Store) {
	w, ok := st.(store.Watcher)
	if !ok {
		t.Skip("not a store.Watcher")
	}
	var ref Refreshes
	w.Watch(&ref)
	// A store that reconnects a listener when first watched reports an
	// InvalidateAll then, and writes in flight meanwhile are reported by
	// name only: wait for that to pass.
	caughtUp(t, w)
	offered := func(what string, want store.Record) {
		t.Helper()
		recs := ref.Records()
		if len(recs) != 1 {
			t.Fatalf("after %s: offered %d records (names %q), want 1", what, len(recs), ref.Names())
		}
		assertRecord(t, recs[0], want)
		if !recs[0].Expires.Equal(mustGet(t, st, want.Name).Expires) || recs[0].Expires.Location() != time.UTC {
			t.Errorf("after %s: offered expiry %v, Get says %v", what, recs[0].Expires, mustGet(t, st, want.Name).Expires)
		}
	}
	v1 := NewRecord("alice", Key(1), 1)
	v1.Expires = v1.Expires.Add(300 * time.Millisecond) // kept to the second
	mustCreate(t, st, v1)
	offered("Create", v1)
	v2 := NewRecord("alice", Key(1), 2)
	v2.Addrs = nil
	if err := st.Update(ctxFor(t), v2, Key(1)); err != nil {
		t.Fatal(err)
	}
	offered("Update", v2)
	wantErr(t, "stale Update", st.Update(ctxFor(t), v2, Key(1)), store.ErrStaleSeq)
	if recs, names := ref.Records(), ref.Names(); len(recs) != 0 || !slices.Equal(names, []string{"alice"}) {
		t.Errorf("after a refused Update: offered %d records, names %q; want none and [alice]", len(recs), names)
	}
	if err := st.Delete(ctxFor(t), "alice", Key(1), 3); err != nil {
		t.Fatal(err)
	}
	if recs, names := ref.Records(), ref.Names(); len(recs) != 0 || !slices.Equal(names, []string{"alice"}) {
		t.Errorf("after Delete: offered %d records, names %q; want none and [alice]", len(recs), names)
	}
}

// caughtUp waits until w reports a check begun after now: Lag is then
// shorter than the time waited.
func caughtUp(t *testing.T, w store.Watcher) {
	t.Helper()
	t0 := time.Now()
	for w.Lag() >= time.Since(t0) {
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("Lag() = %v five seconds after Watch", w.Lag())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testWatchOwnWrites: every write through the store, failed ones too
// (which may have changed the row after all), and every record a purge
// removes, is reported by name before the call returns.
func testWatchOwnWrites(t *testing.T, st store.Store) {
	w, ok := st.(store.Watcher)
	if !ok {
		t.Skip("not a store.Watcher")
	}
	var inv Invalidations
	w.Watch(&inv)
	expect := func(what string) {
		t.Helper()
		if got := inv.Names(); !slices.Contains(got, "alice") || slices.ContainsFunc(got, func(n string) bool { return n != "alice" }) {
			t.Errorf("after %s reported %q, want alice alone", what, got)
		}
	}
	mustCreate(t, st, NewRecord("alice", Key(1), 1))
	expect("Create")
	if err := st.Update(ctxFor(t), NewRecord("alice", Key(1), 2), Key(1)); err != nil {
		t.Fatal(err)
	}
	expect("Update")
	wantErr(t, "stale Update", st.Update(ctxFor(t), NewRecord("alice", Key(1), 2), Key(1)), store.ErrStaleSeq)
	expect("a refused Update")
	if err := st.Update(ctxFor(t), NewRecord("alice", Key(2), 3), Key(1)); err != nil {
		t.Fatal(err)
	}
	expect("rotation")
	if err := st.Delete(ctxFor(t), "alice", Key(2), 4); err != nil {
		t.Fatal(err)
	}
	expect("Delete")
	old := NewRecord("old", Key(3), 1)
	old.Expires = time.Unix(1_500_000_000, 0)
	mustCreate(t, st, old)
	inv.Names()
	if _, err := st.PurgeExpired(ctxFor(t), time.Unix(1_600_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	if got := inv.Names(); !slices.Contains(got, "old") {
		t.Errorf("PurgeExpired reported %q, want the purged name", got)
	}
	// The store's own writes are reported synchronously: Lag is about
	// other processes, and must settle within a second once watched.
	deadline := time.Now().Add(5 * time.Second)
	for w.Lag() > time.Second {
		if time.Now().After(deadline) {
			t.Fatalf("Lag() = %v five seconds after Watch", w.Lag())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testScan pages through the live records in name order.
func testScan(t *testing.T, st store.Store) {
	sc, ok := st.(store.Scanner)
	if !ok {
		t.Skip("not a store.Scanner")
	}
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("user%02d", i)
		mustCreate(t, st, NewRecord(name, Key(byte(i)), uint64(i+1)))
		if i%5 != 3 {
			want = append(want, name)
		}
	}
	for i := 3; i < 25; i += 5 { // tombstones are not listed
		if err := st.Delete(ctxFor(t), fmt.Sprintf("user%02d", i), Key(byte(i)), 100); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	after := ""
	for range 10 {
		page, err := sc.Scan(ctxFor(t), after, 7)
		if err != nil {
			t.Fatalf("Scan after %q: %v", after, err)
		}
		if len(page) > 7 {
			t.Fatalf("Scan returned %d records, limit 7", len(page))
		}
		for _, rec := range page {
			got = append(got, rec.Name)
			var n int
			fmt.Sscanf(rec.Name, "user%d", &n)
			assertRecord(t, rec, NewRecord(rec.Name, Key(byte(n)), uint64(n+1)))
		}
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1].Name
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Scan listed %q, want %q", got, want)
	}
}
