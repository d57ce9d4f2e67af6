package controltest

import (
	"testing"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// CheckGoroutines fails t if, once the test and the cleanups registered
// after this call have run, more goroutines exist than before it. Call it
// first thing in a test. It waits a little for goroutines that are on
// their way out.
func CheckGoroutines(t testing.TB) { leakcheck.Check(t) }
