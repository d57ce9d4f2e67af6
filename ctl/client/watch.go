package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/internal/backoff"
)

// ErrWatcherClosed is returned by Next after Close.
var ErrWatcherClosed = errors.New("event watcher closed")

// Reconnect pacing; a stream silent for api.HeartbeatSilence (no event, no
// heartbeat) means the daemon is presumed dead and the Watcher redials.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Watcher follows the event stream. Next is for one goroutine; Close may be
// called from any goroutine, any number of times, and unblocks Next.
type Watcher struct {
	c      *Client
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	cursor int64 // ID of the last event Next returned; only Next touches it

	mu   sync.Mutex // guards body: the silence timer closes it from its own goroutine
	body io.ReadCloser
	sc   *bufio.Scanner
	tm   *time.Timer
}

// Watch opens the event stream after cursor after (use Status().EventCursor
// for "from now on", 0 for everything the daemon still has). It fails if the
// first connection fails; later drops are retried inside Next until ctx ends
// or Close is called.
func (c *Client) Watch(ctx context.Context, after int64) (*Watcher, error) {
	wctx, cancel := context.WithCancel(ctx)
	w := &Watcher{c: c, ctx: wctx, cancel: cancel, cursor: after}
	if err := w.connect(); err != nil {
		cancel()
		return nil, err
	}
	return w, nil
}

// Cursor is the ID of the last event Next returned (or the starting cursor).
func (w *Watcher) Cursor() int64 { return w.cursor }

// Close stops the watcher and releases its connection.
func (w *Watcher) Close() error {
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropLocked()
	return nil
}

// Next returns the next event, skipping heartbeats and anything at or below
// the cursor, so a resumed stream shows no repeats.
func (w *Watcher) Next() (api.Event, error) {
	for {
		sc, err := w.scanner()
		if err != nil {
			return api.Event{}, err
		}
		if !sc.Scan() {
			err := sc.Err()
			w.streamEnded()
			if errors.Is(err, bufio.ErrTooLong) {
				return api.Event{}, fmt.Errorf("watch events: %w", err) // resuming would hit the same line
			}
			continue
		}
		w.mu.Lock()
		if w.tm != nil {
			w.tm.Reset(api.HeartbeatSilence)
		}
		w.mu.Unlock()
		ev, err := api.DecodeEventLine(sc.Bytes())
		if errors.Is(err, api.ErrHeartbeat) || (err == nil && ev.ID <= w.cursor) {
			continue
		}
		if err != nil {
			return api.Event{}, fmt.Errorf("watch events: %w", err)
		}
		w.cursor = ev.ID
		return ev, nil
	}
}

// scanner returns the current stream, reconnecting with backoff if it was
// dropped.
func (w *Watcher) scanner() (*bufio.Scanner, error) {
	bo := backoff.New(minBackoff, maxBackoff)
	for {
		if w.ctx.Err() != nil {
			return nil, w.closedErr()
		}
		w.mu.Lock()
		sc := w.sc
		w.mu.Unlock()
		if sc != nil {
			return sc, nil
		}
		err := w.connect()
		var ae *api.Error
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("watch events: %w", err) // the daemon refused; retrying will not help
		}
		bo.BackOff(w.ctx, err) // returns at once after a success
	}
}

func (w *Watcher) closedErr() error {
	if err := context.Cause(w.ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ErrWatcherClosed
}

func (w *Watcher) connect() error {
	resp, err := w.c.send(w.ctx, http.MethodGet, api.EventsPath(w.cursor), nil)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), api.MaxEventLine)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.body, w.sc = resp.Body, sc
	w.tm = time.AfterFunc(api.HeartbeatSilence, w.silent)
	return nil
}

// silent drops a stream that has gone quiet for longer than the daemon's
// heartbeat promises; Next then reconnects.
func (w *Watcher) silent() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.body != nil {
		w.body.Close()
	}
}

func (w *Watcher) streamEnded() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropLocked()
}

func (w *Watcher) dropLocked() {
	if w.tm != nil {
		w.tm.Stop()
		w.tm = nil
	}
	if w.body != nil {
		w.body.Close()
		w.body, w.sc = nil, nil
	}
}

// WaitDelivered blocks until message id to peer is delivered, following
// the event stream from cursor after (read Status().EventCursor before
// sending so no receipt is missed). If ctx's deadline passes first it
// returns an error matching api.ErrNotDelivered; if peer's chatd refuses
// our messages for now (a quota), one matching api.ErrRefused with its
// reason.
func (c *Client) WaitDelivered(ctx context.Context, peer, id string, after int64) (api.Message, error) {
	w, err := c.Watch(ctx, after)
	if err != nil {
		return c.pollDelivered(ctx, peer, id, err)
	}
	defer w.Close()
	// The receipt may predate the cursor the caller gave.
	if m, err := c.Message(ctx, peer, id); err == nil && m.State == api.StateDelivered {
		return m, nil
	}
	for {
		ev, err := w.Next()
		if err != nil {
			return c.pollDelivered(ctx, peer, id, err)
		}
		if ev.Type == api.EventDelivered && ev.Message != nil && ev.Message.ID == id {
			return *ev.Message, nil
		}
		if ev.Type == api.EventRefused && ev.Peer == peer {
			return api.Message{}, &api.Error{Code: api.CodeRefused, Message: ev.Detail,
				Hint: "the message stays queued and chatd sends it when " + peer + "'s chatd takes it"}
		}
	}
}

// pollDelivered is the fallback when the event stream is unusable: it asks
// for the message's state twice a second.
func (c *Client) pollDelivered(ctx context.Context, peer, id string, cause error) (api.Message, error) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			return api.Message{}, notDelivered(ctx, id)
		}
		m, err := c.Message(ctx, peer, id)
		if err == nil && m.State == api.StateDelivered {
			return m, nil
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrDaemonNotRunning) {
			return api.Message{}, fmt.Errorf("wait for %s (event stream: %v): %w", id, cause, err)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

func notDelivered(ctx context.Context, id string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &api.Error{Code: api.CodeNotDelivered, Message: fmt.Sprintf("message %s not delivered yet", id)}
	}
	return ctx.Err()
}
