package control_test

// The typed client (ctl/client) against the real control server: every
// route, typed errors, waiting for delivery, and the event watcher across a
// daemon restart. These live here, not in ctl/client, because ctl never
// imports daemon, tests included.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

func setupClient(t *testing.T) (*controltest.Backend, *client.Client) {
	t.Helper()
	controltest.CheckGoroutines(t)
	b := controltest.NewBackend("alice")
	b.AddUser("bob")
	c := &client.Client{Socket: controltest.Serve(t, b)}
	t.Cleanup(c.CloseIdleConnections)
	return b, c
}

func TestClientEveryRoute(t *testing.T) {
	b, c := setupClient(t)
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.Name != "alice" || st.Fingerprint != controltest.Fingerprint("alice") {
		t.Fatalf("Status: %+v %v", st, err)
	}
	ct, err := c.AddContact(ctx, "bob")
	if err != nil || ct.Name != "bob" || ct.Verified {
		t.Fatalf("AddContact: %+v %v", ct, err)
	}
	ct, err = c.VerifyContact(ctx, "bob", controltest.Fingerprint("bob"))
	if err != nil || !ct.Verified {
		t.Fatalf("VerifyContact: %+v %v", ct, err)
	}
	cs, err := c.Contacts(ctx)
	if err != nil || len(cs) != 1 || !cs[0].Verified {
		t.Fatalf("Contacts: %+v %v", cs, err)
	}
	m, err := c.Send(ctx, "bob", "hi bob")
	if err != nil || m.State != api.StateQueued || len(m.ID) != 32 || m.Direction != api.DirectionOut {
		t.Fatalf("Send: %+v %v", m, err)
	}
	b.Receive("bob", "hi alice")
	got, err := c.Message(ctx, "bob", m.ID)
	if err != nil || got.Body != "hi bob" {
		t.Fatalf("Message: %+v %v", got, err)
	}
	hist, err := c.History(ctx, "bob", 0, 0)
	if err != nil || len(hist) != 2 || hist[0].Body != "hi bob" || hist[1].Direction != api.DirectionIn {
		t.Fatalf("History: %+v %v", hist, err)
	}
	older, err := c.History(ctx, "bob", 10, hist[1].Seq)
	if err != nil || len(older) != 1 || older[0].ID != m.ID {
		t.Fatalf("History before %d: %+v %v", hist[1].Seq, older, err)
	}
	if err := c.RemoveContact(ctx, "bob"); err != nil {
		t.Fatalf("RemoveContact: %v", err)
	}
	if cs, _ := c.Contacts(ctx); len(cs) != 0 {
		t.Fatalf("contact not removed: %+v", cs)
	}
}

func TestClientErrorsAreTyped(t *testing.T) {
	_, c := setupClient(t)
	ctx := context.Background()
	_, err := c.Send(ctx, "bobb", "hi")
	if !errors.Is(err, api.ErrUnknownUser) {
		t.Errorf("send to unknown user: %v", err)
	}
	var ae *api.Error
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "bobb") {
		t.Errorf("error lost its message: %v", err)
	}
	if _, err := c.Send(ctx, "bob", strings.Repeat("x", api.MaxBodyBytes+1)); !errors.Is(err, api.ErrTooLarge) {
		t.Errorf("oversized message: %v", err)
	}
	if _, err := c.VerifyContact(ctx, "bob", "0000"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("verify non-contact: %v", err)
	}
	c.AddContact(ctx, "bob")
	if _, err := c.VerifyContact(ctx, "bob", "0000-0000"); !errors.Is(err, api.ErrFingerprintMismatch) {
		t.Errorf("verify wrong fingerprint: %v", err)
	}
	if _, err := c.Message(ctx, "bob", "ff"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown message: %v", err)
	}
}

func TestClientWaitDelivered(t *testing.T) {
	b, c := setupClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, _ := c.Status(ctx)
	m, err := c.Send(ctx, "bob", "are you there")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		d, err := c.WaitDelivered(ctx, "bob", m.ID, st.EventCursor)
		if err == nil && d.State != api.StateDelivered {
			err = fmt.Errorf("state %s", d.State)
		}
		got <- err
	}()
	b.Receive("bob", "unrelated")
	if err := b.Deliver("bob", m.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("WaitDelivered: %v", err)
	}
}

func TestClientWaitDeliveredTimesOut(t *testing.T) {
	_, c := setupClient(t)
	st, _ := c.Status(context.Background())
	m, _ := c.Send(context.Background(), "bob", "into the void")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.WaitDelivered(ctx, "bob", m.ID, st.EventCursor)
	if !errors.Is(err, api.ErrNotDelivered) {
		t.Fatalf("got %v, want ErrNotDelivered", err)
	}
}

// restartable is a control server the test can stop and start again on
// the same socket, the way systemd restarts chatd.
type restartable struct {
	t      *testing.T
	b      *controltest.Backend
	sock   string
	cancel context.CancelFunc
	done   chan error
}

func (d *restartable) start() {
	ln, err := control.Listen(d.sock)
	if err != nil {
		d.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	srv := &control.Server{Backend: d.b, Log: zaptest.NewLogger(d.t), UID: os.Getuid()}
	go func() { d.done <- srv.Serve(ctx, ln) }()
}

// stop stops the server if it runs (safe to call again, as a cleanup).
func (d *restartable) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	if err := <-d.done; err != nil {
		d.t.Errorf("Serve: %v", err)
	}
}

// eventWait bounds each wait for an event: a watcher that skipped one
// would otherwise leave the test blocked until the package times out.
const eventWait = 10 * time.Second

// nextWithin returns w's next event, or fails the test if none comes
// within d (closing w, which unblocks the Next still waiting).
func nextWithin(t *testing.T, w *client.Watcher, d time.Duration) api.Event {
	t.Helper()
	type result struct {
		ev  api.Event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ev, err := w.Next()
		ch <- result{ev, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Next: %v", r.err)
		}
		return r.ev
	case <-time.After(d):
		w.Close()
		<-ch
		t.Fatalf("no event within %v after cursor %d: the watcher skipped or lost one", d, w.Cursor())
		return api.Event{}
	}
}

func TestWatcherResumesAcrossRestartWithoutGapsOrRepeats(t *testing.T) {
	controltest.CheckGoroutines(t)
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &restartable{t: t, b: controltest.NewBackend("alice"), sock: dir + "/control.sock"}
	d.start()
	t.Cleanup(d.stop)
	c := &client.Client{Socket: d.sock}
	defer c.CloseIdleConnections()
	for i := range 3 {
		d.b.Receive("bob", fmt.Sprint(i))
	}
	w, err := c.Watch(context.Background(), 1) // skip the first on purpose
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var bodies []string
	next := func() {
		t.Helper()
		bodies = append(bodies, nextWithin(t, w, eventWait).Message.Body)
	}
	next()
	next()
	d.stop()
	for i := 3; i < 6; i++ { // happen while no daemon listens
		d.b.Receive("bob", fmt.Sprint(i))
	}
	d.start()
	for range 3 {
		next()
	}
	d.b.Receive("bob", "6")
	next()
	if got, want := strings.Join(bodies, ","), "1,2,3,4,5,6"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if w.Cursor() != 7 {
		t.Errorf("cursor %d, want 7", w.Cursor())
	}
}

func TestWatcherCloseUnblocksNext(t *testing.T) {
	_, c := setupClient(t)
	w, err := c.Watch(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := w.Next()
		errc <- err
	}()
	w.Close()
	w.Close() // twice is fine
	select {
	case err := <-errc:
		if !errors.Is(err, client.ErrWatcherClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(eventWait):
		t.Fatalf("Next still blocked %v after Close", eventWait)
	}
}
