package pgstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/backoff"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/internal/rowstate"
)

// How a watched store hears of other processes' writes: a trigger
// (migrations/0003_notify.sql, 0005) announces the names each statement
// changed on the schema's channel, and a listener goroutine, on a
// connection of its own, turns each announcement into Invalidates.
//
// Lag needs more than that: it must bound how late an announcement can
// be, even when the connection silently dies. So every pingEvery the
// listener announces a ping of its own on the same channel, stamped with
// the time it was sent. PostgreSQL delivers notifications in commit order,
// so when the ping comes back, every change committed before it was sent
// has been heard: Lag is how long ago that was. When pings stop coming
// back, Lag grows, and a cache that trusts the store only while Lag is
// small stops answering from memory. After a reconnect nothing tells what
// was missed, so the listener reports InvalidateAll.
const (
	pingEvery = 200 * time.Millisecond
	// pingTimeout bounds one ping's round trip before the listener gives
	// up on its connection and dials again.
	pingTimeout = 2 * time.Second
)

// watchers are the Invalidators the store reports to, and its listener.
type watchers struct {
	mu   sync.Mutex                          // serializes Watch and stop
	list atomic.Pointer[[]store.Invalidator] // copied on write: read on every write

	instance string // this process's p2pchat.instance, also in its pings
	// heard counts reports of other processes' writes (and lost ones), so
	// that a batch can tell whether one came while it was in flight.
	heard  atomic.Uint64
	start  time.Time // origin of synced; set by Open
	synced atomic.Int64
	stop   context.CancelFunc
	done   chan struct{}
}

// Watch implements store.Watcher. The first call starts the listener,
// which Close stops.
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
		ctx, cancel := context.WithCancel(context.Background())
		w.stop, w.done = cancel, make(chan struct{})
		go func() {
			defer close(w.done)
			s.listen(ctx)
		}()
	}
}

// Lag implements store.Watcher: how long ago the newest ping that came
// back was sent (before the first, how long ago the store opened).
func (s *Store) Lag() time.Duration {
	w := &s.watch
	return time.Since(w.start) - time.Duration(w.synced.Load())
}

func (s *Store) invalidate(name string) {
	if list := s.watch.list.Load(); list != nil {
		for _, inv := range *list {
			inv.Invalidate(name)
		}
	}
}

// report reports the outcome of one write of this process: the record it
// committed, if the watcher can take it and fresh says no other process's
// write was heard meanwhile, else just the name.
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
	s.watch.heard.Add(1)
	if list := s.watch.list.Load(); list != nil {
		for _, inv := range *list {
			inv.InvalidateAll()
		}
	}
}

// stopListener stops the listener, if it runs, and waits for it.
func (s *Store) stopListener() {
	w := &s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil {
		w.stop()
		<-w.done
	}
}

// listen keeps a listening connection until ctx ends, dialling again
// after a failure.
func (s *Store) listen(ctx context.Context) {
	bo := backoff.New(100*time.Millisecond, 5*time.Second)
	for {
		t0 := time.Now()
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("listen for other trackers' writes; lookups read the database until it works again", zap.Error(err))
		if time.Since(t0) > time.Minute {
			bo.Reset() // a connection that lasted is a success
		}
		if !bo.BackOff(ctx, err) {
			return
		}
	}
}

// listenOnce listens on one connection until it fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(dctx, s.connConfig.Copy())
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var channel string
	const channelSQL = `SELECT 'p2pchat_users_' || substr(md5(n.nspname), 1, 16)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'users'::regclass`
	if err := conn.QueryRow(ctx, channelSQL).Scan(&channel); err != nil {
		return fmt.Errorf("find the channel: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Whatever changed while nobody listened is unknown.
	s.invalidateAll()
	for {
		if err := s.ping(ctx, conn, channel); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, pingEvery)
		for {
			n, err := conn.WaitForNotification(wctx)
			if err != nil {
				cancel()
				if wctx.Err() != nil && ctx.Err() == nil {
					break // time for the next ping
				}
				return fmt.Errorf("wait for notifications: %w", err)
			}
			s.heard(n)
		}
	}
}

// ping announces the time since start on channel; heard records it when
// it comes back.
func (s *Store) ping(ctx context.Context, conn *pgx.Conn, channel string) error {
	w := &s.watch
	sent := time.Since(w.start)
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	payload := w.instance + " p " + strconv.FormatInt(int64(sent), 10)
	if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// heard handles one notification: "<instance> n <hex name>,<hex name>..."
// from the trigger, or "<instance> p <ns>" from a listener's ping.
func (s *Store) heard(n *pgconn.Notification) {
	w := &s.watch
	who, rest, _ := strings.Cut(n.Payload, " ")
	kind, arg, _ := strings.Cut(rest, " ")
	switch {
	case who == w.instance && kind == "p":
		if sent, err := strconv.ParseInt(arg, 10, 64); err == nil && sent > w.synced.Load() {
			w.synced.Store(sent)
		}
	case who == w.instance: // our own write, reported when it was made
	case kind == "n":
		w.heard.Add(1)
		for h := range strings.SplitSeq(arg, ",") {
			name, err := hex.DecodeString(h)
			if err != nil {
				s.invalidateAll()
				return
			}
			s.invalidate(string(name))
		}
	}
}
