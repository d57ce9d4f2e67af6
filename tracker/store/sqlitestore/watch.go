package sqlitestore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/internal/rowstate"
)

// pollEvery is how often a watched store checks the file for commits by
// other processes (PRAGMA data_version on the writer connection, which
// changes only when another connection commits). A tracker owns its file,
// so this finds nothing in normal operation; it keeps a cache coherent
// when someone else writes the file anyway (a direct preload, a repair).
const pollEvery = 250 * time.Millisecond

// watchers are the Invalidators the store reports to, and the poll that
// finds other processes' commits.
type watchers struct {
	mu   sync.Mutex                          // serializes Watch
	list atomic.Pointer[[]store.Invalidator] // copied on write: read by every commit

	start    time.Time    // the origin of polledAt, for a monotonic clock; set by Open
	polledAt atomic.Int64 // start of the last good poll, ns after start
	version  int64        // data_version at the last poll; owned by the poller
	// alls counts InvalidateAll reports, so that a batch can tell whether
	// one came while it was in flight.
	alls atomic.Uint64
	stop context.CancelFunc
	done chan struct{}
}

// Watch implements store.Watcher. The first call starts the poll for
// other processes' commits, which Close stops.
func (s *Store) Watch(inv store.Invalidator) {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	var list []store.Invalidator
	if old := w.list.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, inv)
	w.list.Store(&list)
	if w.done == nil {
		s.startPoll()
	}
}

// Lag implements store.Watcher: how long ago the last good poll started
// (before the first Watch, how long ago the store opened).
func (s *Store) Lag() time.Duration {
	w := &s.watch
	return time.Since(w.start) - time.Duration(w.polledAt.Load())
}

func (s *Store) invalidate(name string) {
	if list := s.watch.list.Load(); list != nil {
		for _, inv := range *list {
			inv.Invalidate(name)
		}
	}
}

// report reports the outcome of one write: the record it committed, if
// the watcher can take it and fresh says nothing else may have been
// reported meanwhile, else just the name.
func (s *Store) report(name string, rec *store.Record, fresh bool) {
	list := s.watch.list.Load()
	if list == nil {
		return
	}
	for _, inv := range *list {
		if r, ok := inv.(store.Refresher); ok && rec != nil && fresh {
			r.Refresh(rowstate.Stored(*rec))
		} else {
			inv.Invalidate(name)
		}
	}
}

func (s *Store) invalidateAll() {
	s.watch.alls.Add(1)
	if list := s.watch.list.Load(); list != nil {
		for _, inv := range *list {
			inv.InvalidateAll()
		}
	}
}

// startPoll reads the baseline data_version and starts the poller; it
// runs under watch.mu, once.
func (s *Store) startPoll() {
	w := &s.watch
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.done = cancel, make(chan struct{})
	at := time.Since(w.start)
	if v, err := s.dataVersion(ctx); err == nil {
		w.version = v
		w.polledAt.Store(int64(at))
	} else {
		w.version = -1 // the first good poll will invalidate everything
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(pollEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.poll(ctx)
			}
		}
	}()
}

// poll checks for other processes' commits. Lag grows while it fails.
func (s *Store) poll(ctx context.Context) {
	w := &s.watch
	at := time.Since(w.start)
	v, err := s.dataVersion(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("check for other processes' writes", zap.Error(err))
		}
		return
	}
	if v != w.version {
		w.version = v
		s.invalidateAll()
	}
	w.polledAt.Store(int64(at))
}

func (s *Store) dataVersion(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var v int64
	if err := s.writer.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read data_version: %w", err)
	}
	return v, nil
}

// stopPoll stops the poller, if it runs, and waits for it.
func (s *Store) stopPoll() {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil {
		w.stop()
		<-w.done
	}
}
