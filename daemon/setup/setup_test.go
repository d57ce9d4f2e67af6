package setup

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/internal/leakcheck"
	tclient "github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func listen(t *testing.T) (string, net.Listener) {
	dir, err := os.MkdirTemp("", "setup")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "control.sock")
	ln, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return sock, ln
}

// A name-less chatd answers status and init, refuses the rest with a hint,
// refuses a taken name, and after a good init returns the account, has
// recorded it, and leaves the control socket open for the full daemon.
func TestWaitForInit(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	ctx := context.Background()

	// mallory holds "bob" with another key.
	other, _, err := identity.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := register(ctx, tclient.New(tr.URL, nil), "bob", other); err != nil {
		t.Fatal(err)
	}

	sock, ln := listen(t)
	dir := t.TempDir()
	type result struct {
		acct config.Account
		err  error
	}
	done := make(chan result, 1)
	go func() {
		a, err := Wait(ctx, Config{Listener: ln, DataDir: dir, Tracker: tr.URL, Log: zaptest.NewLogger(t), HealthInterval: 10 * time.Millisecond})
		done <- result{a, err}
	}()
	c := &client.Client{Socket: sock}
	defer c.CloseIdleConnections()

	st, err := c.Status(ctx)
	if err != nil || st.Name != "" || st.Fingerprint == "" {
		t.Fatalf("status before init: %+v, %v", st, err)
	}
	if _, err := c.Contacts(ctx); !errors.Is(err, api.ErrNoName) || err.(*api.Error).Hint == "" {
		t.Errorf("contacts before init: %v", err)
	}
	if _, err := c.Init(ctx, "Bad Name", ""); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := c.Init(ctx, "alice", "ftp://x"); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("bad tracker: %v", err)
	}
	if _, err := c.Init(ctx, "alice", "http://127.0.0.1:1"); !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("unreachable tracker: %v", err)
	}
	_, err = c.Init(ctx, "bob", "")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeNameTaken || ae.Hint == "" {
		t.Fatalf("taken name: %v", err)
	}
	res, err := c.Init(ctx, "alice", "")
	if err != nil || !res.Initialized || res.Name != "alice" || res.Fingerprint != st.Fingerprint {
		t.Fatalf("init: %+v, %v", res, err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after init")
	}
	if r.err != nil || r.acct != (config.Account{Name: "alice", Tracker: tr.URL}) {
		t.Fatalf("Wait = %+v, %v", r.acct, r.err)
	}
	if a, err := config.ReadAccount(dir); err != nil || a != r.acct {
		t.Errorf("account file: %+v, %v", a, err)
	}
	// The socket is still open: a connection made now is accepted by
	// whoever serves it next.
	c.CloseIdleConnections()
	srvDone := make(chan error, 1)
	sctx, cancel := context.WithCancel(ctx)
	go func() {
		srvDone <- (&control.Server{Backend: &backend{cfg: Config{}, id: mustID(t, dir), done: make(chan config.Account, 1)}, UID: os.Getuid()}).Serve(sctx, ln)
	}()
	if _, err := c.Status(ctx); err != nil {
		t.Errorf("status after hand-over: %v", err)
	}
	c.CloseIdleConnections()
	cancel()
	<-srvDone

	// Init again with the same key after losing account.toml: accepted.
	if err := register(ctx, tclient.New(tr.URL, nil), "alice", mustID(t, dir)); err != nil {
		t.Errorf("re-register own name: %v", err)
	}
}

func TestWaitCancelled(t *testing.T) {
	leakcheck.Check(t)
	_, ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := Wait(ctx, Config{Listener: ln, DataDir: t.TempDir(), Tracker: "http://127.0.0.1:1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
}

func mustID(t *testing.T, dir string) *identity.Identity {
	id, _, err := identity.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
