package peer

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// Run returns only after the call workers are gone: wait must not leave
// one idling out its callIdle.
func TestCallPoolWaitEndsWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newCallPool()
	ctx, cancel := context.WithCancel(context.Background())
	for range 3 {
		if err := p.do(ctx, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	p.wait()
	// wait returns once the workers called Done; the goroutines end a
	// moment later, far sooner than callIdle.
	deadline := time.Now().Add(callIdle / 2)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after wait, %d before: a worker outlived its pool", n, before)
	}
}
