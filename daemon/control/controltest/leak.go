package controltest

import (
	"runtime"
	"testing"
	"time"
)

// CheckGoroutines fails t if, once the test and the cleanups registered
// after this call have run, more goroutines exist than before it. Call it
// first thing in a test. It waits a little for goroutines that are on
// their way out.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		var n int
		for range 200 {
			if n = runtime.NumGoroutine(); n <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
	})
}
