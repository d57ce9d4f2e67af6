// Package groupcommit runs many callers' small writes in few transactions.
//
// A database with one writer (SQLite) pays for each commit with a journal
// write and an fsync, which costs far more than the rows in it. A Committer
// owns one goroutine that takes a request, gathers every request already
// waiting (up to Config.Max), and hands the batch to Config.Commit, which
// writes them in one transaction and sets each request's outcome. While it
// commits, new callers queue up for the next round: under load the cost of
// a commit is shared by many writes, and when idle a lone write is
// committed at once.
//
//	c := groupcommit.Start(groupcommit.Config[req]{
//		Max:    256,
//		Closed: ErrClosed,
//		Commit: func(ctx context.Context, batch []*groupcommit.Call[req]) { ... },
//	})
//	defer c.Stop()
//	out, err := c.Do(ctx, req{...})
//
// The promise to callers: once the committer has taken a request, Do waits
// for its outcome even if the caller's ctx ends, so a nil error always
// means committed and an error means not. A request whose caller left
// before the committer reached it is answered with ctx.Err() and never
// handed to Commit. What a batch does when one of its writes fails (retry
// alone, rerun without it, ...) is the store's business, in Commit.
package groupcommit

import (
	"context"
	"runtime"
	"sync"
)

// Config says how a Committer batches and commits.
type Config[T any] struct {
	// Max bounds one batch, so a flood of callers cannot make a single
	// transaction (and everyone's latency) grow without limit.
	Max int
	// Queue is how many requests may wait for the committer without a
	// caller blocking; 0 hands each request over directly.
	Queue int
	// Closed is the error for requests made after Stop or still queued
	// when it was called.
	Closed error
	// Commit writes batch and sets each Call's Req outputs and Err. It
	// must not keep batch. ctx is cancelled by Stop. The callers are
	// answered when Commit returns, in one goroutine, so a batch's
	// answers go out after everything Commit did for it.
	Commit func(ctx context.Context, batch []*Call[T])
}

// Call is one caller's request on its way through the committer.
type Call[T any] struct {
	Ctx context.Context // the caller's: Commit may check it before a retry
	Req T               // the request; Commit may fill in its results
	Err error           // the outcome, set by Commit

	done chan struct{} // closed by the committer once Req and Err are final
}

// A Committer owns the committer goroutine. Its methods are safe for
// concurrent use.
type Committer[T any] struct {
	cfg     Config[T]
	reqs    chan *Call[T]
	quit    chan struct{} // closed by Stop: no new work
	stopped chan struct{} // closed when the committer goroutine has exited
	ctx     context.Context
	cancel  context.CancelFunc
	once    sync.Once
}

// Start starts the committer goroutine, which Stop ends.
func Start[T any](cfg Config[T]) *Committer[T] {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Committer[T]{
		cfg:     cfg,
		reqs:    make(chan *Call[T], cfg.Queue),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
	go c.run()
	return c
}

// Do hands req to the committer and returns it as Commit left it, with
// its outcome. See the package doc for what the outcome promises.
func (c *Committer[T]) Do(ctx context.Context, req T) (T, error) {
	if err := ctx.Err(); err != nil {
		return req, err
	}
	call := &Call[T]{Ctx: ctx, Req: req, done: make(chan struct{})}
	select {
	case c.reqs <- call:
	case <-c.quit:
		return req, c.cfg.Closed
	case <-ctx.Done():
		return req, ctx.Err()
	}
	select {
	case <-call.done:
	case <-c.stopped:
		// Queued when Stop drained the queue, or answered just before the
		// committer exited.
		select {
		case <-call.done:
		default:
			return req, c.cfg.Closed
		}
	}
	return call.Req, call.Err
}

// Stop ends the committer after the round in progress (whose ctx it
// cancels) and fails queued requests with Config.Closed. Safe to call more
// than once.
func (c *Committer[T]) Stop() {
	c.once.Do(func() {
		close(c.quit)
		c.cancel()
		<-c.stopped
	})
}

// Stopping is closed when Stop has begun.
func (c *Committer[T]) Stopping() <-chan struct{} { return c.quit }

// Queued is how many requests wait for the committer's next round.
func (c *Committer[T]) Queued() int { return len(c.reqs) }

func (c *Committer[T]) run() {
	defer close(c.stopped)
	batch := make([]*Call[T], 0, c.cfg.Max)
	live := make([]*Call[T], 0, c.cfg.Max)
	for {
		select {
		case <-c.quit:
			c.failQueued()
			return
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		}
		select {
		case <-c.quit: // both were ready: stopping wins
			batch[0].Err = c.cfg.Closed
			close(batch[0].done)
			c.failQueued()
			return
		default:
		}
		// Let callers that were just answered make their next request
		// before gathering: on a busy machine this makes batches several
		// times larger (and cheaper per write) at the cost of one yield.
		runtime.Gosched()
		batch = c.gather(batch)
		live = live[:0]
		for _, r := range batch {
			if r.Err = r.Ctx.Err(); r.Err == nil {
				live = append(live, r) // nothing is written for a caller who left
			}
		}
		if len(live) > 0 {
			c.cfg.Commit(c.ctx, live)
		}
		for _, r := range batch {
			close(r.done)
		}
		clear(batch) // drop references to answered requests
		clear(live)
	}
}

// gather adds the requests already waiting, without blocking.
func (c *Committer[T]) gather(batch []*Call[T]) []*Call[T] {
	for len(batch) < c.cfg.Max {
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (c *Committer[T]) failQueued() {
	for {
		select {
		case r := <-c.reqs:
			r.Err = c.cfg.Closed
			close(r.done)
		default:
			return
		}
	}
}
