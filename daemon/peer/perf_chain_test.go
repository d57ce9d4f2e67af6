package peer

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// A chain makes one call at a time, in order, and gathers what is handed
// over during a call into the next one.
func TestCallChainGathersInOrder(t *testing.T) {
	checkLeaks(t)
	p := newCallPool()
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	release, started := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var calls [][]int
	c := newCallChain(p, ctx, 100, func(items []int) error {
		mu.Lock()
		calls = append(calls, slices.Clone(items))
		first := len(calls) == 1
		mu.Unlock()
		if first {
			close(started)
			<-release // the first call is slow: the rest gathers
		}
		return nil
	}, func(error) { t.Error("no call failed") })
	if err := c.add(ctx, []int{1}); err != nil {
		t.Fatal(err)
	}
	<-started
	for i := 2; i <= 5; i++ {
		if err := c.add(ctx, []int{i}); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{1}, {2, 3, 4, 5}}; !slices.EqualFunc(calls, want, slices.Equal) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
}

// After a failed call the chain takes nothing more, and what waited is
// dropped: nothing handed over after a failed batch may be stored.
func TestCallChainStopsAtFailure(t *testing.T) {
	checkLeaks(t)
	p := newCallPool()
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	boom := errors.New("boom")
	release := make(chan struct{})
	var got [][]int
	failed := make(chan error, 1)
	started := make(chan struct{}, 1)
	c := newCallChain(p, ctx, 100, func(items []int) error {
		got = append(got, slices.Clone(items))
		started <- struct{}{}
		<-release
		return boom
	}, func(err error) { failed <- err })
	c.add(ctx, []int{1})
	<-started
	c.add(ctx, []int{2})
	close(release)
	if err := c.wait(); !errors.Is(err, boom) {
		t.Fatalf("wait = %v, want boom", err)
	}
	if err := <-failed; !errors.Is(err, boom) {
		t.Fatalf("fail got %v", err)
	}
	if err := c.add(ctx, []int{3}); !errors.Is(err, boom) {
		t.Fatalf("add after failure = %v, want boom", err)
	}
	if len(got) != 1 {
		t.Fatalf("calls after the failure: %v", got)
	}
}

// A full next call makes add wait for room (the reader's backpressure),
// and a cancelled context ends the wait.
func TestCallChainBackpressure(t *testing.T) {
	checkLeaks(t)
	p := newCallPool()
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); p.wait() }()
	release, started := make(chan struct{}), make(chan struct{}, 4)
	c := newCallChain(p, ctx, 2, func(items []int) error { started <- struct{}{}; <-release; return nil }, func(error) {})
	c.add(ctx, []int{1}) // in flight
	<-started
	c.add(ctx, []int{2, 3}) // waits: next is full
	added := make(chan error, 1)
	go func() { added <- c.add(ctx, []int{4}) }()
	select {
	case err := <-added:
		t.Fatalf("add returned %v while the next call was full", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	c.wait()
	wctx, wcancel := context.WithCancel(context.Background())
	block, dstarted := make(chan struct{}), make(chan struct{}, 4)
	d := newCallChain(p, ctx, 1, func([]int) error { dstarted <- struct{}{}; <-block; return nil }, func(error) {})
	d.add(wctx, []int{1})
	<-dstarted
	d.add(wctx, []int{2})
	wcancel()
	if err := d.add(wctx, []int{3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("add with a cancelled context = %v", err)
	}
	close(block)
	d.wait()
}
