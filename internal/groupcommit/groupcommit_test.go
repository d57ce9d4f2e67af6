package groupcommit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

var errClosed = errors.New("closed")

// recorder is a Commit that records its batches and answers each request
// with its value doubled. While gate is not nil, a batch waits for it.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	entered chan struct{} // a batch has started (buffered, best effort)
	gate    chan struct{}
	fail    error // when set, every request fails with it
}

func newRecorder() *recorder { return &recorder{entered: make(chan struct{}, 100)} }

func (r *recorder) commit(ctx context.Context, batch []*Call[int]) {
	select {
	case r.entered <- struct{}{}:
	default:
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			for _, c := range batch {
				c.Err = ctx.Err()
			}
			return
		}
	}
	vals := make([]int, len(batch))
	for i, c := range batch {
		vals[i] = c.Req
		c.Req *= 2
		c.Err = r.fail
	}
	r.mu.Lock()
	r.batches = append(r.batches, vals)
	r.mu.Unlock()
}

func (r *recorder) committed() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]int(nil), r.batches...)
}

func start(t *testing.T, r *recorder, max, queue int) *Committer[int] {
	t.Helper()
	leakcheck.Check(t)
	c := Start(Config[int]{Max: max, Queue: queue, Closed: errClosed, Commit: r.commit})
	t.Cleanup(c.Stop)
	return c
}

// waitFor polls cond for up to 10 s, so a broken committer fails the test
// instead of hanging it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestDoReturnsCommitsResult(t *testing.T) {
	r := newRecorder()
	c := start(t, r, 8, 8)
	got, err := c.Do(t.Context(), 21)
	if err != nil || got != 42 {
		t.Fatalf("Do = %d, %v; want 42, nil", got, err)
	}
	r.fail = errors.New("disk full") // the committer is idle: no race
	if _, err := c.Do(t.Context(), 1); !errors.Is(err, r.fail) {
		t.Fatalf("Do = %v, want the commit's error", err)
	}
}

// Requests that queue while a batch commits go together in the next one,
// no more than Max at a time, and each caller gets its own answer.
func TestCoalescesUpToMax(t *testing.T) {
	for _, queue := range []int{0, 64} {
		r := newRecorder()
		r.gate = make(chan struct{})
		c := start(t, r, 8, queue)
		results := make(chan [2]int, 21)
		var wg sync.WaitGroup
		do := func(v int) {
			wg.Go(func() {
				got, err := c.Do(t.Context(), v)
				if err != nil {
					t.Error(err)
				}
				results <- [2]int{v, got}
			})
		}
		do(0)
		<-r.entered // the committer holds 0 and waits for the gate
		for v := 1; v <= 20; v++ {
			do(v)
		}
		if queue > 0 {
			waitFor(t, "20 queued requests", func() bool { return c.Queued() == 20 })
		} else {
			time.Sleep(50 * time.Millisecond) // senders park on the channel
		}
		close(r.gate)
		wg.Wait()
		close(results)
		for res := range results {
			if res[1] != 2*res[0] {
				t.Errorf("request %d answered %d", res[0], res[1])
			}
		}
		batches := r.committed()
		n := 0
		for _, b := range batches {
			if len(b) > 8 {
				t.Errorf("batch of %d, want at most 8", len(b))
			}
			n += len(b)
		}
		if n != 21 || len(batches) > 4 {
			t.Errorf("queue %d: %d requests in %d batches %v, want 21 in at most 4", queue, n, len(batches), batches)
		}
	}
}

// Once taken, a request's outcome is awaited even if the caller's ctx ends:
// Do reports what Commit did, so nil means committed.
func TestOutcomeAwaitedAfterCtxEnds(t *testing.T) {
	r := newRecorder()
	r.gate = make(chan struct{})
	c := start(t, r, 8, 0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, 1)
		done <- err
	}()
	<-r.entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Do returned %v while its batch was still committing", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(r.gate)
	if err := <-done; err != nil {
		t.Fatalf("Do = %v, want nil: the write committed", err)
	}
	if b := r.committed(); len(b) != 1 {
		t.Fatalf("batches %v, want the one write", b)
	}
}

// A caller who left before the committer reached its request is answered
// with its ctx's error, and Commit never sees the request.
func TestLeftCallerNotCommitted(t *testing.T) {
	r := newRecorder()
	r.gate = make(chan struct{})
	c := start(t, r, 8, 8)
	first := make(chan error, 1)
	go func() {
		_, err := c.Do(t.Context(), 1)
		first <- err
	}()
	<-r.entered
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, 2)
		second <- err
	}()
	waitFor(t, "the second request to queue", func() bool { return c.Queued() == 1 })
	cancel()
	close(r.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("second Do = %v, want context.Canceled", err)
	}
	if b := r.committed(); len(b) != 1 || len(b[0]) != 1 || b[0][0] != 1 {
		t.Fatalf("batches %v, want only the first request", b)
	}
	if _, err := c.Do(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with an ended ctx = %v, want context.Canceled", err)
	}
}

// Stop cancels the round in progress, fails what is queued and refuses
// what comes after; every caller gets an answer and nothing leaks.
func TestStop(t *testing.T) {
	r := newRecorder()
	r.gate = make(chan struct{}) // never opened: only Stop ends the round
	c := start(t, r, 8, 8)
	errs := make(chan error, 5)
	go func() {
		_, err := c.Do(t.Context(), 1)
		errs <- err
	}()
	<-r.entered
	for v := 2; v <= 5; v++ {
		go func() {
			_, err := c.Do(t.Context(), v)
			errs <- err
		}()
	}
	waitFor(t, "4 queued requests", func() bool { return c.Queued() == 4 })
	c.Stop()
	c.Stop() // twice is fine
	canceled, closed := 0, 0
	for range 5 {
		switch err := <-errs; {
		case errors.Is(err, context.Canceled): // the round in progress
			canceled++
		case errors.Is(err, errClosed): // the queued ones
			closed++
		default:
			t.Errorf("a request: %v", err)
		}
	}
	if canceled != 1 || closed != 4 {
		t.Errorf("%d cancelled, %d closed; want 1 and 4", canceled, closed)
	}
	if _, err := c.Do(t.Context(), 6); !errors.Is(err, errClosed) {
		t.Errorf("Do after Stop = %v, want errClosed", err)
	}
	select {
	case <-c.Stopping():
	default:
		t.Error("Stopping not closed after Stop")
	}
}

// Many callers at once, racing Stop: every Do returns, and a nil error
// only ever comes with a committed request (run with -race).
func TestConcurrentWithStop(t *testing.T) {
	r := newRecorder()
	c := start(t, r, 16, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[int]bool{}
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				v := g*1000 + i
				got, err := c.Do(t.Context(), v)
				if errors.Is(err, errClosed) {
					return
				}
				if err != nil || got != 2*v {
					t.Errorf("Do(%d) = %d, %v", v, got, err)
					return
				}
				mu.Lock()
				ok[v] = true
				mu.Unlock()
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	c.Stop()
	wg.Wait()
	committed := map[int]bool{}
	for _, b := range r.committed() {
		for _, v := range b {
			committed[v] = true
		}
	}
	for v := range ok {
		if !committed[v] {
			t.Errorf("Do(%d) succeeded but was never committed", v)
		}
	}
}
