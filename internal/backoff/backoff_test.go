package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNextGrowsWithinBoundsAndResets(t *testing.T) {
	b := New(100*time.Millisecond, time.Second)
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		w *= time.Millisecond
		if d := b.Next(); d < w/2 || d > w {
			t.Fatalf("failure %d: delay %v outside [%v, %v]", i+1, d, w/2, w)
		}
	}
	if b.Failures() != len(want) {
		t.Fatalf("Failures = %d, want %d", b.Failures(), len(want))
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after Reset the delay is %v, want at most the minimum", d)
	}
}

func TestNextJitters(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 50 {
		b := New(time.Second, time.Minute)
		b.Next()
		seen[b.Next()] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 second delays took only %d distinct values: no jitter", len(seen))
	}
}

func TestMaxBelowMin(t *testing.T) {
	b := New(time.Second, time.Millisecond)
	for range 5 {
		if d := b.Next(); d > time.Second {
			t.Fatalf("delay %v above the raised maximum", d)
		}
	}
}

func TestBackOffSuccessReturnsAtOnce(t *testing.T) {
	b := New(time.Hour, time.Hour)
	b.Next()
	if !b.BackOff(context.Background(), nil) {
		t.Fatal("BackOff after a success said stop")
	}
	if b.Failures() != 0 {
		t.Fatal("a success did not reset the failures")
	}
}

func TestBackOffStopsOnCancel(t *testing.T) {
	b := New(time.Hour, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- b.BackOff(ctx, errors.New("boom")) }()
	cancel()
	if <-done {
		t.Fatal("BackOff said go on after its context was cancelled")
	}
}

func TestBackOffSleeps(t *testing.T) {
	b := New(20*time.Millisecond, 20*time.Millisecond)
	start := time.Now()
	if !b.BackOff(context.Background(), errors.New("boom")) {
		t.Fatal("BackOff said stop with a live context")
	}
	if el := time.Since(start); el < 10*time.Millisecond {
		t.Fatalf("BackOff returned after %v, before the shortest delay (10ms)", el)
	}
}
