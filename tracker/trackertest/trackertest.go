// Package trackertest runs a real tracker in-process for tests: the real
// server on 127.0.0.1 over a real SQLite file in t.TempDir().
//
//	tr := trackertest.New(t)
//	c := tr.Client()                    // a client.Client for tr.URL
//	ann, err := c.Register(ctx, signed) // ann.Observed is the test's own 127.0.0.1:port
//
// The tracker stops, and its store closes, when the test ends. Its rate
// limit is effectively off unless WithConfig sets one.
package trackertest

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/server"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
)

// Tracker is a running test tracker.
type Tracker struct {
	// URL is the tracker's base URL, "http://127.0.0.1:PORT".
	URL string
	// Addr is the address it listens on.
	Addr string

	t         testing.TB
	store     store.Store
	ownsStore bool
	cancel    context.CancelFunc
	done      chan error
	closeOnce sync.Once
}

type options struct {
	cfg   server.Config
	store store.Store
}

// Option configures New.
type Option func(*options)

// WithMaxTTL sets how far ahead a record's expiry may be (default 24h).
func WithMaxTTL(d time.Duration) Option { return func(o *options) { o.cfg.MaxTTL = d } }

// WithReannounce sets the fraction of a record's remaining lifetime that
// reannounce_after reports and the bounds it is clamped to.
func WithReannounce(fraction float64, min, max time.Duration) Option {
	return func(o *options) {
		o.cfg.ReannounceFraction, o.cfg.ReannounceMin, o.cfg.ReannounceMax = fraction, min, max
	}
}

// WithClock makes the server read time from now (for expiry tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.cfg.Now = now } }

// WithStore serves st instead of a fresh SQLite file. The caller keeps
// ownership: the tracker does not close it.
func WithStore(st store.Store) Option { return func(o *options) { o.store = st } }

// WithConfig edits the server configuration directly.
func WithConfig(edit func(*server.Config)) Option { return func(o *options) { edit(&o.cfg) } }

// New starts a tracker and arranges for it to stop when the test ends.
func New(t testing.TB, opts ...Option) *Tracker {
	t.Helper()
	o := options{cfg: server.Config{RateLimit: 1e6, RateBurst: 1e6}}
	for _, opt := range opts {
		opt(&o)
	}
	tr := &Tracker{t: t, store: o.store, done: make(chan error, 1)}
	if tr.store == nil {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "tracker.db"), nil)
		if err != nil {
			t.Fatalf("trackertest: %v", err)
		}
		tr.store, tr.ownsStore = st, true
	}
	srv, err := server.New(o.cfg, tr.store, nil)
	if err != nil {
		tr.closeStore()
		t.Fatalf("trackertest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tr.closeStore()
		t.Fatalf("trackertest: listen: %v", err)
	}
	tr.Addr, tr.URL = ln.Addr().String(), "http://"+ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	tr.cancel = cancel
	go func() { tr.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(tr.Close)
	return tr
}

// Client returns a tracker client for this tracker with its own transport;
// its idle connections are closed when the test ends.
func (tr *Tracker) Client() *client.Client {
	transport := &http.Transport{Proxy: nil}
	tr.t.Cleanup(transport.CloseIdleConnections)
	return client.New(tr.URL, &http.Client{Transport: transport, Timeout: 10 * time.Second})
}

// Store is the store the tracker serves, for tests that inspect or seed it.
func (tr *Tracker) Store() store.Store { return tr.store }

// Close stops the tracker and closes the store it opened. It runs at test
// cleanup; calling it earlier (to test a tracker outage) is fine, and
// calling it twice is harmless.
func (tr *Tracker) Close() {
	tr.closeOnce.Do(func() {
		tr.cancel()
		if err := <-tr.done; err != nil {
			tr.t.Errorf("trackertest: serve: %v", err)
		}
		tr.closeStore()
	})
}

func (tr *Tracker) closeStore() {
	if tr.ownsStore {
		if err := tr.store.Close(); err != nil {
			tr.t.Errorf("trackertest: close store: %v", err)
		}
	}
}
