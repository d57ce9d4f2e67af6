package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// startNodeWithControl runs a daemon that serves its control socket, and
// returns a client for it.
func startNodeWithControl(t *testing.T, tr *trackertest.Tracker, name string) (*node, *client.Client) {
	t.Helper()
	skipShort(t)
	sockDir, err := os.MkdirTemp("", "ctl") // socket paths must stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg := testConfig(tr, name, t.TempDir())
	cfg.ControlSocket = filepath.Join(sockDir, "chatd", "control.sock")
	d, err := New(Options{Config: cfg, Version: "test"})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{t: t, name: name, dir: cfg.DataDir, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- d.Run(ctx) }()
	t.Cleanup(n.stop)
	waitFor(t, name+" registered", func() bool { return d.Presence().Registered })
	c := &client.Client{Socket: cfg.ControlSocket}
	t.Cleanup(c.CloseIdleConnections)
	return n, c
}

// The control API served by a real daemon: what chatctl relies on.
func TestControlAPIAgainstRealDaemon(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice, ac := startNodeWithControl(t, tr, "alice")
	_, bc := startNodeWithControl(t, tr, "bob")
	ctx := context.Background()
	if _, err := bc.AddContact(ctx, "alice"); err != nil { // else alice's messages are requests
		t.Fatal(err)
	}

	st, err := ac.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "alice" || st.Fingerprint != alice.d.Fingerprint() || st.TrackerState != "registered" || st.Version != "test" {
		t.Fatalf("status = %+v", st)
	}
	// On loopback nothing may be sent to a router: the status says why.
	if st.PortMap.State != api.PortMapOff || !strings.Contains(st.PortMap.Detail, "loopback") || len(st.PublicAddrs) != 0 {
		t.Fatalf("port map status on a loopback daemon: %+v, public %v", st.PortMap, st.PublicAddrs)
	}
	fi, err := os.Stat(alice.d.ControlAddr().String())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode: %v %v", fi.Mode(), err)
	}

	// Bob watches from his current cursor; alice sends; bob sees exactly
	// the message, then alice sees the receipt.
	bst, _ := bc.Status(ctx)
	w, err := bc.Watch(ctx, bst.EventCursor)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m, err := ac.Send(ctx, "bob", "over the socket")
	if err != nil || len(m.ID) != 32 || m.State != api.StateQueued {
		t.Fatalf("send = %+v, %v", m, err)
	}
	ev := nextOfType(t, w, api.EventMessage)
	if ev.Message == nil || ev.Message.ID != m.ID || ev.Message.Body != "over the socket" || ev.Message.Direction != "in" {
		t.Fatalf("bob's event = %+v", ev)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if got, err := ac.WaitDelivered(wctx, "bob", m.ID, st.EventCursor); err != nil || got.State != api.StateDelivered {
		t.Fatalf("wait delivered = %+v, %v", got, err)
	}

	// A resumed stream continues after the last event seen: no repeats.
	cursor := ev.ID
	w.Close()
	m2, _ := ac.Send(ctx, "bob", "second")
	w2, err := bc.Watch(ctx, cursor)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	ev2 := nextOfType(t, w2, api.EventMessage)
	if ev2.Message.ID != m2.ID || ev2.ID <= cursor {
		t.Fatalf("resumed stream gave %+v after cursor %d", ev2, cursor)
	}

	hist, err := bc.History(ctx, "alice", 10, 0)
	if err != nil || len(hist) != 2 || hist[0].Body != "over the socket" || hist[1].Body != "second" {
		t.Fatalf("bob's history = %+v, %v", hist, err)
	}
	if hist[0].SentAt.IsZero() || hist[0].State != api.StateReceived {
		t.Fatalf("history entry = %+v", hist[0])
	}

	// Contacts and verification with the fingerprint bob reads out.
	bobStatus, _ := bc.Status(ctx)
	if _, err := ac.VerifyContact(ctx, "bob", "AAAA-BBBB"); !errors.Is(err, api.ErrFingerprintMismatch) {
		t.Fatalf("wrong fingerprint: %v", err)
	}
	c, err := ac.VerifyContact(ctx, "bob", strings.ToLower(bobStatus.Fingerprint))
	if err != nil || !c.Verified {
		t.Fatalf("verify = %+v, %v", c, err)
	}
	cs, err := ac.Contacts(ctx)
	if err != nil || len(cs) != 1 || !cs[0].Verified || !cs[0].Online || cs[0].Fingerprint != bobStatus.Fingerprint {
		t.Fatalf("contacts = %+v, %v", cs, err)
	}

	// User errors come back typed, with hints.
	for _, c := range []struct {
		err  error
		want error
	}{
		{sendErr(ac, "nobody", "hi"), api.ErrUnknownUser},
		{sendErr(ac, "bob", strings.Repeat("x", 64<<10+1)), api.ErrTooLarge},
		{sendErr(ac, "Bad Name", "hi"), api.ErrBadRequest},
	} {
		var ae *api.Error
		if !errors.Is(c.err, c.want) || !errors.As(c.err, &ae) || ae.Message == "" {
			t.Errorf("got %v, want %v", c.err, c.want)
		}
	}
	if err := ac.RemoveContact(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := ac.Contacts(ctx); len(cs) != 0 {
		t.Fatalf("contact not removed: %+v", cs)
	}
}

func sendErr(c *client.Client, to, body string) error {
	_, err := c.Send(context.Background(), to, body)
	return err
}

func nextOfType(t *testing.T, w *client.Watcher, typ string) api.Event {
	t.Helper()
	// A missing event fails the test instead of hanging it.
	timer := time.AfterFunc(20*time.Second, func() { w.Close() })
	defer timer.Stop()
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		if ev.Type == typ {
			return ev
		}
	}
}
