// Package backoff is the one retry delay every loop in p2pchat uses: the
// peer dialler, the tracker presence loop, the control-stream watcher, the
// accept loop and the port mapper.
//
// A Backoff doubles its delay after each failure, from Min up to Max, and
// draws each delay uniformly from its upper half ("equal jitter"), so many
// daemons that failed together do not retry in lock step. A success resets
// it. Loops that wait on nothing else call BackOff; loops that also wait on
// other channels take the delay from Next and put it in their own select.
//
//	b := backoff.New(time.Second, 5*time.Minute)
//	for ctx.Err() == nil {
//		err := try(ctx)
//		b.BackOff(ctx, err) // returns at once after a success
//	}
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the state of one retry loop. The zero value is not usable; make
// one with New. It is not safe for concurrent use: each loop owns its own.
type Backoff struct {
	min, max time.Duration
	failures int
}

// New returns a Backoff whose delays grow from lo to hi. lo must be positive;
// hi below lo is raised to lo.
func New(lo, hi time.Duration) *Backoff {
	if lo <= 0 {
		panic("backoff: minimum delay must be positive")
	}
	return &Backoff{min: lo, max: max(lo, hi)}
}

// Failures is the number of failures since the last Reset.
func (b *Backoff) Failures() int { return b.failures }

// Reset records a success: the next failure waits about Min again.
func (b *Backoff) Reset() { b.failures = 0 }

// Next records a failure and returns how long to wait before the next try:
// a random duration in [d/2, d], where d is Min·2^(failures-1) capped at Max.
func (b *Backoff) Next() time.Duration {
	d := b.min
	for i := 0; i < b.failures && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	b.failures++
	half := d / 2
	return half + rand.N(d-half+1)
}

// BackOff records the outcome of one try. After a success (err == nil) it
// resets and returns at once; after a failure it sleeps for Next() or until
// ctx is done. It reports whether the loop should go on (ctx not done).
func (b *Backoff) BackOff(ctx context.Context, err error) bool {
	if err == nil {
		b.Reset()
		return ctx.Err() == nil
	}
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
