package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/p2pchat/p2pchat/tracker/store"
)

// BenchRecords is how many users the benchmarks preload.
const BenchRecords = 10_000

func benchName(i int) string { return fmt.Sprintf("user%06d", i) }

// Preload registers BenchRecords users (user000000...) unless they are
// already there, with a few concurrent writers so PostgreSQL can group
// commits. The benchmark framework calls a benchmark several times with
// growing b.N, so the store outlives one call and Preload runs once.
func Preload(tb testing.TB, st store.Store) {
	tb.Helper()
	ctx := context.Background()
	if _, err := st.Get(ctx, benchName(BenchRecords-1)); err == nil {
		return
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < BenchRecords; i += workers {
				err := st.Create(ctx, NewRecord(benchName(i), Key(byte(i)), 1))
				if err != nil && !errors.Is(err, store.ErrExists) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("preload: %v", err)
	}
}

// BenchGet measures lookups of random preloaded users from parallel
// goroutines: the tracker's hot path.
func BenchGet(b *testing.B, st store.Store) {
	Preload(b, st)
	ctx := context.Background()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// A multiplicative step spreads each goroutine over the whole key range.
		i := next.Add(1) * 7919
		for pb.Next() {
			i += 7919
			name := benchName(int(i % BenchRecords))
			if _, err := st.Get(ctx, name); err != nil {
				b.Errorf("Get(%q): %v", name, err)
				return
			}
		}
	})
}

// benchOwners divides BenchRecords, so users split evenly among up to that
// many parallel writers.
const benchOwners = 100

// benchSeq hands out seqs for BenchUpdate. It only grows, across the
// framework's repeated calls too, so every update is above the stored seq.
var benchSeq atomic.Uint64

// BenchUpdate measures signed updates (re-announcements) from parallel
// goroutines. Each goroutine owns its own users, so no update is stale.
func BenchUpdate(b *testing.B, st store.Store) {
	Preload(b, st)
	ctx := context.Background()
	benchSeq.CompareAndSwap(0, 1) // preloaded records have seq 1
	var workers atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Workers own disjoint residues mod benchOwners: two sharing a user
		// would make each other's updates stale.
		w := int(workers.Add(1) - 1)
		if w >= benchOwners {
			b.Errorf("more than %d parallel goroutines", benchOwners)
			return
		}
		for i := w; pb.Next(); i += benchOwners {
			if i >= BenchRecords {
				i = w
			}
			rec := NewRecord(benchName(i), Key(byte(i)), benchSeq.Add(1))
			if err := st.Update(ctx, rec, rec.PublicKey); err != nil {
				b.Errorf("Update(%q): %v", rec.Name, err)
				return
			}
		}
	})
}
