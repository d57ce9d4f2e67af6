package sqlitestore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/storetest"
)

// batchStore opens a store whose committer sits idle, so a test can run a
// batch of its own making through runBatch, exactly as the committer would.
func batchStore(t *testing.T) *Store {
	t.Helper()
	leakcheck.Check(t)
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "tracker.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func must(t *testing.T) func(writeReq, error) writeReq {
	return func(r writeReq, err error) writeReq {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// outcomes runs batch as one group commit and returns each request's answer.
func outcomes(st *Store, batch ...writeReq) []error {
	calls := make([]*writeCall, len(batch))
	for i, r := range batch {
		calls[i] = &writeCall{Ctx: context.Background(), Req: r}
	}
	st.runBatch(context.Background(), calls)
	errs := make([]error, len(batch))
	for i, c := range calls {
		errs[i] = c.Err
	}
	return errs
}

func checkOutcomes(t *testing.T, got []error, want []error) {
	t.Helper()
	for i := range want {
		if !errors.Is(got[i], want[i]) || (want[i] == nil) != (got[i] == nil) {
			t.Errorf("write %d in the batch: %v, want %v", i, got[i], want[i])
		}
	}
}

// One batch mixes writes that succeed with each kind of refusal, several on
// one name: each gets the answer it would get had they run one by one in
// order, and the refusals take nothing of the others down.
func TestBatchMixedOutcomesInOrder(t *testing.T) {
	st := batchStore(t)
	ctx := t.Context()
	m := must(t)
	k1, k2 := storetest.Key(1), storetest.Key(2)
	rec := storetest.NewRecord
	got := outcomes(st,
		m(st.createReq(rec("alice", k1, 1))),
		m(st.updateReq(rec("alice", k1, 2), k1)),
		m(st.updateReq(rec("alice", k1, 2), k1)), // same seq again: a replay
		m(st.updateReq(rec("alice", k2, 3), k2)), // not the owner
		m(st.createReq(rec("alice", k2, 1))),     // taken, by the first write
		m(st.updateReq(rec("bob", k2, 2), k2)),   // not registered
		m(st.createReq(rec("bob", k2, 1))),
		m(st.deleteReq("bob", k2, 2)),
		m(st.updateReq(rec("bob", k2, 3), k2)), // deleted just before
		m(st.updateReq(rec("alice", k1, 3), k1)),
	)
	checkOutcomes(t, got, []error{nil, nil, store.ErrStaleSeq, store.ErrKeyMismatch, store.ErrExists,
		store.ErrNotFound, nil, nil, store.ErrNotFound, nil})
	a, err := st.Get(ctx, "alice")
	if err != nil || a.Seq != 3 {
		t.Fatalf("alice after the batch: seq %d, %v; want seq 3", a.Seq, err)
	}
	if _, err := st.Get(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob after the batch: %v, want ErrNotFound (deleted)", err)
	}
}

// A statement that fails outright (here one given the wrong arguments) may
// end the whole transaction in SQLite; the batch reruns without it, so
// only that write fails and the writes before and after it are stored.
func TestBatchStatementErrorFailsOnlyThatWrite(t *testing.T) {
	st := batchStore(t)
	ctx := t.Context()
	m := must(t)
	k1 := storetest.Key(1)
	broken := m(st.updateReq(storetest.NewRecord("alice", k1, 3), k1))
	broken.args = broken.args[:2]
	got := outcomes(st,
		m(st.createReq(storetest.NewRecord("alice", k1, 1))),
		broken,
		m(st.updateReq(storetest.NewRecord("alice", k1, 2), k1)),
	)
	if got[1] == nil {
		t.Error("the broken write succeeded")
	}
	checkOutcomes(t, []error{got[0], got[2]}, []error{nil, nil})
	a, err := st.Get(ctx, "alice")
	if err != nil || a.Seq != 2 {
		t.Fatalf("alice after the batch: seq %d, %v; want seq 2", a.Seq, err)
	}
}

// A cached record must not survive a write in a batch: the writer reads
// its own write as soon as it has its answer.
func TestBatchInvalidatesCache(t *testing.T) {
	st := batchStore(t)
	ctx := t.Context()
	m := must(t)
	k1 := storetest.Key(1)
	checkOutcomes(t, outcomes(st, m(st.createReq(storetest.NewRecord("alice", k1, 1)))), []error{nil})
	if _, err := st.Get(ctx, "alice"); err != nil { // cached at seq 1
		t.Fatal(err)
	}
	checkOutcomes(t, outcomes(st, m(st.updateReq(storetest.NewRecord("alice", k1, 2), k1))), []error{nil})
	if a, err := st.Get(ctx, "alice"); err != nil || a.Seq != 2 {
		t.Fatalf("Get after the batch: seq %d, %v; want seq 2", a.Seq, err)
	}
}
