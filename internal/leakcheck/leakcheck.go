// Package leakcheck lets tests assert that every goroutine they started has
// stopped: the project's rule that each goroutine has an owner and a way to
// stop, checked.
//
//	func TestX(t *testing.T) {
//		leakcheck.Check(t) // first, so its cleanup runs last
//		...
//	}
package leakcheck

import (
	"runtime"
	"testing"
	"time"
)

// settle is how long goroutines on their way out get to finish.
const settle = 5 * time.Second

// Check fails t if, once the test and the cleanups registered after this
// call have run, more goroutines exist than when it was called.
func Check(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() { Wait(t, before) })
}

// Wait fails t, with every goroutine's stack, unless the number of
// goroutines drops to before or fewer within a few seconds.
func Wait(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(settle)
	now := runtime.NumGoroutine()
	for now > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		now = runtime.NumGoroutine()
	}
	if now > before {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutine leak: %d before, %d after\n%s", before, now, buf)
	}
}
