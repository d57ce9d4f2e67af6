package natlab

import (
	"errors"
	"fmt"
	"testing"

	"github.com/p2pchat/p2pchat/internal/testenv"
)

// builder is the reporter of a lab made by Build: a failure panics with a
// buildError, which build recovers on the same goroutine and returns.
type builder struct {
	logf func(format string, args ...any) // nil: discard
}

// buildError carries a failure out of the Add methods to build.
type buildError struct{ err error }

func (builder) Helper()           {}
func (builder) Fatal(args ...any) { panic(buildError{errors.New(fmt.Sprint(args...))}) }
func (builder) Fatalf(format string, args ...any) {
	panic(buildError{fmt.Errorf(format, args...)})
}

func (b builder) Logf(format string, args ...any) {
	if b.logf != nil {
		b.logf(format, args...)
	}
}

// build runs fn and returns the failure one of the Add methods reported,
// or nil. Any other panic goes on.
func build(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			be, ok := r.(buildError)
			if !ok {
				panic(r)
			}
			err = be.err
		}
	}()
	fn()
	return nil
}

// skipOrFail stops the lab's construction for a missing tool: it skips a
// test (fails it under CI=true), and fails a Build.
func (l *Lab) skipOrFail(reason string) {
	if t, ok := l.t.(testing.TB); ok {
		testenv.SkipOrFail(t, reason)
		return
	}
	l.t.Fatal(reason)
}
