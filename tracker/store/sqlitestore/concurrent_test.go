package sqlitestore_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
	"github.com/p2pchat/p2pchat/tracker/store/storetest"
)

// Many writers at once, so batches form: every update of a name with a
// distinct seq either lands or is stale, the highest always lands, and two
// writers sending the same seq never both succeed.
func TestConcurrentWritersGetOwnResults(t *testing.T) {
	leakcheck.Check(t)
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "tracker.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const names, seqs = 8, 40
	key := storetest.Key(1)
	for n := range names {
		if err := st.Create(t.Context(), storetest.NewRecord(name(n), key, 1)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	won := map[[2]int]int{} // name, seq -> successes
	var wg sync.WaitGroup
	for n := range names {
		for seq := 2; seq < 2+seqs; seq++ {
			for range 2 { // two writers send each seq
				wg.Go(func() {
					rec := storetest.NewRecord(name(n), key, uint64(seq))
					err := st.Update(t.Context(), rec, key)
					if err != nil && !errors.Is(err, store.ErrStaleSeq) {
						t.Errorf("Update %s seq %d: %v", rec.Name, seq, err)
					}
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						won[[2]int{n, seq}]++
					}
				})
			}
		}
	}
	wg.Wait()
	for k, c := range won {
		if c > 1 {
			t.Errorf("%s seq %d: %d writers succeeded, want at most 1", name(k[0]), k[1], c)
		}
	}
	for n := range names {
		if won[[2]int{n, 1 + seqs}] != 1 {
			t.Errorf("%s: the highest seq did not land", name(n))
		}
		rec, err := st.Get(t.Context(), name(n))
		if err != nil || rec.Seq != 1+seqs {
			t.Errorf("%s: seq %d, %v; want %d", name(n), rec.Seq, err, 1+seqs)
		}
	}
}

func name(n int) string { return string(rune('a'+n)) + "lice" }

// Close stops the committer (leakcheck sees it go) and later writes fail
// cleanly instead of hanging.
func TestWriteAfterClose(t *testing.T) {
	leakcheck.Check(t)
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "tracker.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Create(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 1)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	err = st.Update(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 2), storetest.Key(1))
	if !errors.Is(err, sqlitestore.ErrClosed) {
		t.Fatalf("Update after Close: %v, want ErrClosed", err)
	}
}
