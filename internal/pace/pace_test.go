package pace

import (
	"sync"
	"testing"
	"time"
)

func TestFirstAtOnceThenOncePerInterval(t *testing.T) {
	p := Every(time.Minute)
	t0 := time.Unix(1_000_000, 0)
	if n, ok := p.Tick(t0); !ok || n != 1 {
		t.Fatalf("first event: report %v n %d, want true 1", ok, n)
	}
	for i := 1; i <= 5; i++ {
		if _, ok := p.Tick(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("event %d within the interval was reported", i)
		}
	}
	if n, ok := p.Tick(t0.Add(time.Minute)); !ok || n != 6 {
		t.Fatalf("after the interval: report %v n %d, want true 6 (5 held back + this one)", ok, n)
	}
	if _, ok := p.Tick(t0.Add(time.Minute + time.Second)); ok {
		t.Fatal("the interval restarts at each report")
	}
}

func TestConcurrentTicksAreAllCounted(t *testing.T) {
	p := Every(time.Hour)
	now := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				p.Tick(now)
			}
		})
	}
	wg.Wait()
	if n, ok := p.Tick(now.Add(time.Hour)); !ok || n != 8000 {
		t.Fatalf("report %v n %d, want true 8000 (7,999 held back after the first + this one)", ok, n)
	}
}
