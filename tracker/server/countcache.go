package server

import (
	"context"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/tracker/store"
)

// countCache keeps the number of live records for /healthz and /metrics.
// Counting is a scan of every user (about 40 ms at 300k), so it runs at
// most once per ttl: the first caller after the value went stale counts,
// callers meanwhile get the previous value at once, and only a caller with
// no value yet waits for the count.
type countCache struct {
	st  store.Store
	ttl time.Duration
	now func() time.Time

	refresh sync.Mutex // held by the one caller counting

	mu  sync.Mutex // guards the fields below
	at  time.Time  // when n and err were read; zero before the first count
	n   int64
	err error
}

func (c *countCache) get(ctx context.Context) (int64, error) {
	c.mu.Lock()
	n, err, at := c.n, c.err, c.at
	c.mu.Unlock()
	if !at.IsZero() && c.now().Sub(at) < c.ttl {
		return n, err
	}
	if !at.IsZero() && !c.refresh.TryLock() {
		return n, err // another caller is counting
	}
	if at.IsZero() {
		c.refresh.Lock()
		c.mu.Lock()
		fresh := !c.at.IsZero()
		n, err = c.n, c.err
		c.mu.Unlock()
		if fresh { // counted while we waited
			c.refresh.Unlock()
			return n, err
		}
	}
	defer c.refresh.Unlock()
	n, err = c.st.Count(ctx)
	c.mu.Lock()
	c.n, c.err, c.at = n, err, c.now()
	c.mu.Unlock()
	return n, err
}
