package leakcheck

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed   string
	cleanups []func()
}

func (r *recorder) Helper()                        {}
func (r *recorder) Errorf(format string, a ...any) { r.failed = format }
func (r *recorder) Cleanup(f func())               { r.cleanups = append(r.cleanups, f) }
func (r *recorder) runCleanups() {
	for _, f := range r.cleanups {
		f()
	}
}

func TestCheckPassesWhenGoroutinesStop(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() { <-done; close(stopped) }()
	close(done)
	<-stopped
	r.runCleanups()
	if r.failed != "" {
		t.Fatalf("reported a leak after the goroutine stopped: %s", r.failed)
	}
}

func TestCheckReportsALeak(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	block := make(chan struct{})
	defer close(block)
	// Several, so that goroutines of earlier tests finishing meanwhile
	// cannot hide the leak from the count.
	for range 10 {
		go func() { <-block }()
	}
	r.runCleanups()
	if !strings.Contains(r.failed, "goroutine leak") {
		t.Fatal("a goroutine still running was not reported")
	}
}
