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

// start runs f on a worker without waiting for it. The caller learns of
// the end some other way (see callChain).
func (p *callPool) start(ctx context.Context, f func()) {
	c := &call{f: func() error { f(); return nil }, done: make(chan error, 1)}
	select {
	case p.jobs <- c:
	default:
		p.wg.Go(func() { p.work(ctx, c) })
	}
}

// callChain runs one Handler call at a time for a session, on the call
// pool, without stopping the receiver: what the receiver hands over while
// a call is in flight is gathered into the next one. So a slow commit
// makes the next batch larger (and its commit cheaper per message)
// instead of making the reader wait, and the calls stay in order. Once a
// call fails, the chain takes nothing more: nothing handed over after a
// failed batch may be stored before it.
type callChain[T any] struct {
	pool *callPool
	ctx  context.Context       // the pool's: workers end with it
	max  int                   // most items per call; add waits beyond it
	run  func(items []T) error // the call; owns items only while it runs
	fail func(error)           // told of the first error, on the worker

	mu   sync.Mutex
	next []T           // guarded by mu: items for the next call
	busy bool          // guarded by mu: a call is in flight
	err  error         // guarded by mu: the error that stopped the chain
	idle chan struct{} // cap 1: a call finished
}

func newCallChain[T any](p *callPool, ctx context.Context, max int, run func([]T) error, fail func(error)) *callChain[T] {
	return &callChain[T]{pool: p, ctx: ctx, max: max, run: run, fail: fail, idle: make(chan struct{}, 1)}
}

// add hands items to the chain, starting a call at once if none is in
// flight. If the next call is already full it waits for room (the
// reader's backpressure), or until ctx ends. It returns the chain's error
// if the chain has stopped.
func (c *callChain[T]) add(ctx context.Context, items []T) error {
	c.mu.Lock()
	for c.err == nil && c.busy && len(c.next) > 0 && len(c.next)+len(items) > c.max {
		c.mu.Unlock()
		select {
		case <-c.idle:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.next = append(c.next, items...)
	if !c.busy {
		c.busy = true
		c.pool.start(c.ctx, c.loop)
	}
	return nil
}

// loop makes calls until nothing is waiting or a call fails.
func (c *callChain[T]) loop() {
	for {
		c.mu.Lock()
		items := c.next
		c.next = nil
		if len(items) == 0 {
			c.busy = false
			c.mu.Unlock()
			c.signal()
			return
		}
		c.mu.Unlock()
		c.signal()
		if err := c.run(items); err != nil {
			c.mu.Lock()
			c.err, c.next, c.busy = err, nil, false
			c.mu.Unlock()
			c.signal()
			c.fail(err)
			return
		}
	}
}

func (c *callChain[T]) signal() {
	select {
	case c.idle <- struct{}{}:
	default:
	}
}

// wait returns once no call is in flight, and the chain's error.
func (c *callChain[T]) wait() error {
	for {
		c.mu.Lock()
		busy, err := c.busy, c.err
		c.mu.Unlock()
		if !busy {
			return err
		}
		<-c.idle
	}
}
