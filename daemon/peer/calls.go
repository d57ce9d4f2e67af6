package peer

import (
	"context"
	"sync"
	"time"
)

// callIdle is how long a call worker waits for the next call before it
// exits. Long enough to carry a busy session from batch to batch, short
// enough that a daemon whose sessions have gone quiet keeps none.
const callIdle = 100 * time.Millisecond

// callPool runs the receivers' Handler calls (Deliver, Acked) on a few
// worker goroutines instead of on the receivers themselves. A receiver
// lives as long as its session and spends nearly all of it parked in a
// read; if it made the store calls itself, its stack would grow to what
// SQLite needs and, since the runtime only halves a stack that is less
// than a quarter used, stay several KiB larger for the session's whole
// life. Workers are shared and kept while calls keep coming, so their
// grown stacks are reused rather than grown anew for every call.
//
// Workers end after callIdle without work or when the manager's context
// ends; Run waits for them (wait) before it returns.
type callPool struct {
	jobs chan *call // unbuffered: a send succeeds only when a worker waits
	wg   sync.WaitGroup
}

type call struct {
	f    func() error
	done chan error // cap 1
}

func newCallPool() *callPool { return &callPool{jobs: make(chan *call)} }

// do runs f on a worker and returns its result. Workers end after callIdle
// without work, or when ctx is done.
func (p *callPool) do(ctx context.Context, f func() error) error {
	c := &call{f: f, done: make(chan error, 1)}
	select {
	case p.jobs <- c:
	default:
		p.wg.Go(func() { p.work(ctx, c) })
	}
	return <-c.done
}

// wait returns once every worker has exited; ctx must be done.
func (p *callPool) wait() { p.wg.Wait() }

func (p *callPool) work(ctx context.Context, c *call) {
	idle := time.NewTimer(callIdle)
	defer idle.Stop()
	for {
		c.done <- c.f()
		idle.Reset(callIdle)
		select {
		case c = <-p.jobs:
		case <-idle.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
