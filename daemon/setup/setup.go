// Package setup is chatd before it has a name. A freshly installed chatd
// started by systemd has no name to register, so instead of exiting it
// serves its control socket with just enough of the API for
// `chatctl init NAME [--tracker URL]`: status, which says what to do, and
// init, which registers the name on the tracker with the user's key (made
// now if there is none), records it in the data directory's account.toml
// and returns. chatd then starts in full on the same control socket, and
// later starts read the name from account.toml.
//
//	acct, err := setup.Wait(ctx, setup.Config{Listener: ln, DataDir: dir, Tracker: url})
//	if err != nil { ... } // ctx cancelled, or the control socket failed
//	cfg.Name, cfg.Tracker = acct.Name, acct.Tracker
//
// Every other request gets a no_name error with the hint to run
// chatctl init. A name held by another key is refused with name_taken;
// registering the same name with the same key again is accepted, so a
// user who lost account.toml can run init again.
package setup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/identity"
)

// Notifier hears readiness and watchdog pings (daemon.Notifier satisfies
// it); the status line stays the one given with Ready.
type Notifier interface {
	Ready(status string)
	Watchdog()
}

// Config configures Wait.
type Config struct {
	// Listener is the control socket. Wait does not close it: chatd goes
	// on serving it once a name is chosen.
	Listener net.Listener
	// DataDir holds the identity key and gets account.toml.
	DataDir string
	// Tracker is the tracker used when init names none.
	Tracker string
	// HTTP, if set, is the HTTP client for the tracker.
	HTTP    *http.Client
	Log     *zap.Logger
	Version string
	// Notifier, if set, is told READY once the socket is served and pinged
	// every HealthInterval (default 5s) by Wait's loop.
	Notifier       Notifier
	HealthInterval time.Duration
}

// StatusLine is what the service status says while chatd waits.
const StatusLine = "waiting for a name: run 'chatctl init NAME'"

// Wait serves the control socket until `chatctl init` succeeded, and
// returns the account it recorded. It returns ctx's error when ctx ends
// first, and an error if the socket cannot be served.
func Wait(ctx context.Context, cfg Config) (config.Account, error) {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	id, created, err := identity.LoadOrCreate(cfg.DataDir)
	if err != nil {
		return config.Account{}, err
	}
	if created {
		log.Info("created identity key", zap.String("fingerprint", id.Fingerprint()))
	}
	ln, ok := cfg.Listener.(deadliner)
	if !ok {
		return config.Account{}, fmt.Errorf("serve control socket: %T cannot be handed over", cfg.Listener)
	}
	b := &backend{cfg: cfg, id: id, log: log, started: time.Now(), done: make(chan config.Account, 1)}
	srv := &control.Server{Backend: b, Log: log.Named("control"), UID: os.Getuid(), Version: cfg.Version}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	kept := &keepOpen{deadliner: ln}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(sctx, kept) }()

	n := cfg.Notifier
	if n == nil {
		n = nop{}
	}
	every := cfg.HealthInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	n.Ready(StatusLine)
	log.Info("no name yet: waiting for 'chatctl init NAME'", zap.String("fingerprint", id.Fingerprint()))
	t := time.NewTicker(every)
	defer t.Stop()
	var acct config.Account
	for acct.Name == "" {
		select {
		case <-ctx.Done():
			stop()
			<-errc
			return config.Account{}, ctx.Err()
		case err := <-errc:
			return config.Account{}, err
		case acct = <-b.done:
		case <-t.C:
			n.Watchdog()
		}
	}
	stop() // waits for the init response to be written
	if err := <-errc; err != nil {
		return config.Account{}, err
	}
	if err := ln.SetDeadline(time.Time{}); err != nil {
		return config.Account{}, fmt.Errorf("hand over control socket: %w", err)
	}
	return acct, nil
}

type nop struct{}

func (nop) Ready(string) {}
func (nop) Watchdog()    {}

// deadliner is a listener whose Accept can be interrupted without closing
// it (*net.UnixListener, also under socket activation).
type deadliner interface {
	net.Listener
	SetDeadline(time.Time) error
}

// keepOpen lets the setup server stop serving a listener that chatd goes
// on using: Close only makes Accept return.
type keepOpen struct {
	deadliner
	closed atomic.Bool
}

func (k *keepOpen) Accept() (net.Conn, error) {
	if k.closed.Load() {
		return nil, net.ErrClosed
	}
	c, err := k.deadliner.Accept()
	if err != nil && k.closed.Load() {
		return nil, net.ErrClosed
	}
	return c, err
}

func (k *keepOpen) Close() error {
	k.closed.Store(true)
	return k.deadliner.SetDeadline(time.Unix(1, 0))
}

// validTracker checks a tracker URL before anything is sent to it.
func validTracker(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("bad tracker url")
	}
	return nil
}
