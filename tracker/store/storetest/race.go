package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/p2pchat/p2pchat/internal/leakcheck"

	"github.com/p2pchat/p2pchat/tracker/store"
)

func contextCanceled(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx, cancel
}

// Race sizes: enough interleavings to catch a lost update, few enough to
// keep the suite fast on two shared cores.
const (
	raceWorkers = 8
	raceSeqs    = 60
)

// RaceUpdates has raceWorkers goroutines, spread over stores (pass the
// same store twice, or two stores on one database for two "processes"),
// each walk seqs 1..K updating one record. Every seq must be won exactly
// once, the final seq must be K, and the only error allowed is
// ErrStaleSeq.
func RaceUpdates(t *testing.T, stores ...store.Store) {
	t.Helper()
	const name = "contended"
	if err := stores[0].Create(t.Context(), NewRecord(name, Key(1), 0)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	var wins [raceSeqs + 1]atomic.Int32
	errs := make(chan error, raceWorkers)
	var wg sync.WaitGroup
	for w := range raceWorkers {
		st := stores[w%len(stores)]
		wg.Go(func() { errs <- updateWalk(t.Context(), st, name, wins[:]) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for seq := 1; seq <= raceSeqs; seq++ {
		if n := wins[seq].Load(); n != 1 {
			t.Errorf("seq %d won %d times, want exactly once", seq, n)
		}
	}
	for i, st := range stores {
		got, err := st.Get(t.Context(), name)
		if err != nil {
			t.Fatalf("store %d: Get: %v", i, err)
		}
		// Each success moves seq up by exactly one, so the winner of seq s
		// also wrote the signature for s: the final record is whole.
		assertRecord(t, got, NewRecord(name, Key(1), raceSeqs))
	}
}

func updateWalk(ctx context.Context, st store.Store, name string, wins []atomic.Int32) error {
	for seq := uint64(1); seq <= raceSeqs; seq++ {
		err := st.Update(ctx, NewRecord(name, Key(1), seq), Key(1))
		switch {
		case err == nil:
			wins[seq].Add(1)
		case errors.Is(err, store.ErrStaleSeq):
		default:
			return fmt.Errorf("update seq %d: %w", seq, err)
		}
	}
	return nil
}

// RaceCreates has raceWorkers goroutines with different keys register the
// same names at once: each name must end up with exactly one owner, whose
// record is the one stored, and the losers must see ErrExists.
func RaceCreates(t *testing.T, stores ...store.Store) {
	t.Helper()
	const names = 20
	var owners [names]atomic.Int32
	var winner [names]atomic.Int32
	errs := make(chan error, raceWorkers)
	var wg sync.WaitGroup
	for w := range raceWorkers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for i := range names {
				err := st.Create(t.Context(), NewRecord(fmt.Sprintf("name%d", i), Key(byte(w+1)), 1))
				switch {
				case err == nil:
					owners[i].Add(1)
					winner[i].Store(int32(w + 1))
				case !errors.Is(err, store.ErrExists):
					errs <- fmt.Errorf("worker %d: Create name%d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range names {
		if n := owners[i].Load(); n != 1 {
			t.Errorf("name%d has %d owners, want 1", i, n)
			continue
		}
		got, err := stores[len(stores)-1].Get(t.Context(), fmt.Sprintf("name%d", i))
		if err != nil {
			t.Fatalf("Get name%d: %v", i, err)
		}
		if want := Key(byte(winner[i].Load())); string(got.PublicKey) != string(want) {
			t.Errorf("name%d stored key %x, but the Create that succeeded used %x", i, got.PublicKey, want)
		}
	}
}

// testCloseLeaks checks that a store's pools and background goroutines
// stop on Close, and that Close may be called twice.
func testCloseLeaks(t *testing.T, open func(t *testing.T) store.Store) {
	before := runtime.NumGoroutine()
	st := open(t)
	mustCreate(t, st, NewRecord("alice", Key(1), 1))
	mustGet(t, st, "alice")
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	CheckGoroutines(t, before)
}

// CheckGoroutines fails if, after a short settle, more goroutines run than
// before. Goroutines that are winding down get time to exit.
func CheckGoroutines(t *testing.T, before int) { leakcheck.Wait(t, before) }

// testConcurrentMixedWrites sends many writes to different names at once,
// so that a group-committing store batches them (pgstore sends such
// updates as one statement), with every outcome among them: each caller
// must get its own write's answer, and the rows must end as the answers
// say.
func testConcurrentMixedWrites(t *testing.T, st store.Store) {
	const users = 40
	for i := range users {
		mustCreate(t, st, NewRecord(fmt.Sprintf("user%02d", i), Key(byte(i)), 5))
	}
	type write struct {
		name string
		do   func() error
		want error // nil, or the sentinel
	}
	var writes []write
	for i := range users {
		name := fmt.Sprintf("user%02d", i)
		switch i % 5 {
		case 0, 1: // applies
			writes = append(writes, write{name, func() error { return st.Update(ctxFor(t), NewRecord(name, Key(byte(i)), 9), Key(byte(i))) }, nil})
		case 2:
			writes = append(writes, write{name, func() error { return st.Update(ctxFor(t), NewRecord(name, Key(byte(i)), 5), Key(byte(i))) }, store.ErrStaleSeq})
		case 3:
			writes = append(writes, write{name, func() error { return st.Update(ctxFor(t), NewRecord(name, Key(99), 9), Key(99)) }, store.ErrKeyMismatch})
		case 4:
			writes = append(writes, write{name, func() error { return st.Delete(ctxFor(t), name, Key(byte(i)), 9) }, nil})
		}
		writes = append(writes, write{"ghost" + name, func() error {
			return st.Update(ctxFor(t), NewRecord("ghost"+name, Key(1), 9), Key(1))
		}, store.ErrNotFound})
	}
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, w := range writes {
		wg.Go(func() {
			<-start
			errs[i] = w.do()
		})
	}
	close(start)
	wg.Wait()
	for i, w := range writes {
		if (w.want == nil) != (errs[i] == nil) || w.want != nil && !errors.Is(errs[i], w.want) {
			t.Errorf("write %d to %s: %v, want %v", i, w.name, errs[i], w.want)
		}
	}
	for i := range users {
		name := fmt.Sprintf("user%02d", i)
		rec, err := st.Get(ctxFor(t), name)
		switch i % 5 {
		case 0, 1:
			if err != nil || rec.Seq != 9 {
				t.Errorf("%s after its update: seq %d, %v", name, rec.Seq, err)
			}
		case 2, 3:
			if err != nil || rec.Seq != 5 {
				t.Errorf("%s after a refused update: seq %d, %v", name, rec.Seq, err)
			}
		case 4:
			wantErr(t, name+" after its deletion", err, store.ErrNotFound)
		}
	}
}
