package store

import (
	"sync"
	"testing"
	"time"
)

func TestConcurrentEnqueue(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	const goroutines, each = 50, 20
	var (
		mu   sync.Mutex
		got  []Message
		wg   sync.WaitGroup
		errs = make(chan error, goroutines)
	)
	for range goroutines {
		wg.Go(func() {
			for range each {
				m, err := s.Enqueue(ctx, "bob", []byte("hello"), time.Now())
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got = append(got, m)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	idSeen, seqSeen := map[[16]byte]bool{}, map[int64]bool{}
	for _, m := range got {
		if idSeen[m.ID] || seqSeen[m.Seq] {
			t.Fatalf("duplicate ID or Seq in %+v", m)
		}
		idSeen[m.ID], seqSeen[m.Seq] = true, true
	}
	pending, err := s.Pending(ctx, "bob", 0, 10*goroutines*each)
	if err != nil || len(pending) != goroutines*each {
		t.Fatalf("stored %d, %v; want %d", len(pending), err, goroutines*each)
	}
	for _, m := range pending {
		if !idSeen[m.ID] {
			t.Fatalf("stored message %x was never returned to a caller", m.ID)
		}
	}
	st := s.Stats()
	if st.EnqueueRequests != goroutines*each || st.EnqueueBatches > st.EnqueueRequests {
		t.Fatalf("stats %+v", st)
	}
}

// TestGroupCommitCoalesces holds the writer connection so that 50 Enqueue
// calls pile up behind it, then checks they were committed together.
func TestGroupCommitCoalesces(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	conn, err := s.w.Conn(ctx) // the only writer connection
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	results := make(chan Message, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := s.Enqueue(ctx, "bob", []byte{byte('a' + i%26)}, time.Now())
			if err != nil {
				t.Error(err)
			}
			results <- m
		})
	}
	// Wait until every request reached the committer or its queue.
	for s.gc.requests.Load()+int64(s.gc.Queued()) < n {
		time.Sleep(time.Millisecond)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	seen := map[[16]byte]bool{}
	for m := range results {
		if m.Seq == 0 || seen[m.ID] {
			t.Fatalf("bad or duplicate result %+v", m)
		}
		seen[m.ID] = true
	}
	st := s.Stats()
	// The committer took one request before blocking and all others queued
	// behind it: two transactions at most.
	if st.EnqueueRequests != n || st.EnqueueBatches > 2 {
		t.Fatalf("stats %+v: want %d requests in at most 2 transactions", st, n)
	}
}

// TestEnqueueCancelledWhileQueued checks that a caller who gave up before
// its turn gets an error and nothing is stored for it.
func TestEnqueueCancelledWhileQueued(t *testing.T) {
	s, _ := openTest(t)
	conn, err := s.w.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := s.Enqueue(ctxT(t), "bob", []byte("first"), time.Now())
		first <- err
	}()
	for s.gc.requests.Load() < 1 { // the committer holds "first", blocked on conn
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := contextWithCancel(t)
	second := make(chan error, 1)
	go func() {
		_, err := s.Enqueue(ctx, "bob", []byte("second"), time.Now())
		second <- err
	}()
	for s.gc.Queued() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	conn.Close()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err == nil {
		t.Fatal("cancelled Enqueue reported success")
	}
	p, _ := s.Pending(ctxT(t), "bob", 0, 10)
	if len(p) != 1 || string(p[0].Body) != "first" {
		t.Fatalf("pending = %+v, want only the first message", p)
	}
}
