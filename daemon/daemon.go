// Package daemon wires chatd together: the identity key, the message store,
// the peer-session manager, the router port mapping, tracker presence and
// the control socket.
//
// A Daemon is made with New, which does everything that can fail at start-up
// (loading the key, opening the store, binding the peer port and the control
// socket), and then runs with Run until its context is cancelled:
//
//	d, err := daemon.New(daemon.Options{Config: cfg, Log: log})
//	if err != nil { ... }
//	err = d.Run(ctx) // returns after every part has stopped and the store is closed
//
// Its exported methods (Send, History, Contacts, ...) are the Go API that the
// control socket serves and that tests drive directly.
//
// Trust: a contact's key is pinned on first use — when the user adds or
// messages a name, or when a peer first connects — from the tracker's signed
// record. From then on a different key, whether offered by a connecting peer
// or by a tracker record, is refused and reported as a key_mismatch event;
// it is never silently accepted. The user compares fingerprints out of band
// and marks the contact verified.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/portmap"
	"github.com/p2pchat/p2pchat/daemon/presence"
	"github.com/p2pchat/p2pchat/daemon/reach"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/tracker/client"
)

// Options configures New.
type Options struct {
	Config config.Config
	Log    *zap.Logger
	// ControlListener, if set, is used instead of binding
	// Config.ControlSocket (systemd socket activation). With
	// NoControl the control socket is not served at all (tests that drive
	// the Go API).
	ControlListener net.Listener
	NoControl       bool
	// Version is reported in the status.
	Version string
	// Notifier hears readiness, status lines and watchdog pings from the
	// main loop (see health.go); nil means nobody listens.
	Notifier Notifier
	// HealthInterval is how often the main loop checks the parts and pings
	// the watchdog (default 5s; cmd/chatd uses a third of WatchdogSec).
	HealthInterval time.Duration
	// StallFile is for tests only: while the file exists the main loop
	// stops, as a stuck one would (see stallForTest).
	StallFile string
}

// Daemon is one user's running chatd.
type Daemon struct {
	cfg     config.Config
	log     *zap.Logger
	version string
	started time.Time

	id        *identity.Identity
	store     *store.Store
	tracker   *client.Client // lookups, from an ephemeral port
	announcer *client.Client // announces, from the listening port
	peers     *peer.Manager
	presence  *presence.Presence
	portmap   *portmap.Service // nil when off: disabled, or listening on loopback
	reach     *reach.Service   // relay reservations; off without relays
	ctlLn     net.Listener

	mu         sync.Mutex           // guards records, mismatched and unknown
	records    map[string]lastRec   // newest record seen per contact, for a tracker that is down or lies
	mismatched map[string]time.Time // contact -> when a key mismatch was last reported
	unknown    map[string]time.Time // names the tracker does not know, until when (negative cache)
	strangers  *rate.Limiter        // tracker lookups that unauthenticated peers cause
	known      knownContacts        // names pinned in the store, so Send need not ask it
	first      firstContacts        // names a first Send is pinning while it dials them
	blocked    map[string]bool      // guarded by mu: blocked keys (as strings), refused at the handshake
	refusals   map[string]refusal   // guarded by mu: the last refusal reported per peer
	meters     *meters              // per-peer message rate and daily bytes
	// blockedRefusals counts the handshakes refused for a blocked key.
	blockedRefusals atomic.Int64

	notify      Notifier
	healthEvery time.Duration
	stallFile   string

	closeOnce sync.Once
}

// New loads the identity, opens the store and binds the peer listener and
// control socket. Close it (or Run it) to release them.
func New(o Options) (_ *Daemon, err error) {
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	d := &Daemon{
		cfg: cfg, log: log, version: o.Version, started: time.Now(),
		records: map[string]lastRec{}, mismatched: map[string]time.Time{}, unknown: map[string]time.Time{},
		refusals:  map[string]refusal{},
		strangers: rate.NewLimiter(rate.Limit(cfg.Peer.StrangerLookups), max(1, cfg.Peer.StrangerLookupBurst)),
		meters:    newMeters(cfg.Limits, log),
		notify:    o.Notifier, healthEvery: o.HealthInterval, stallFile: o.StallFile,
	}
	if d.notify == nil {
		d.notify = nopNotifier{}
	}
	if d.healthEvery <= 0 {
		d.healthEvery = defaultHealthInterval
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	var created bool
	if d.id, created, err = identity.LoadOrCreate(cfg.DataDir); err != nil {
		return nil, err
	}
	if created {
		log.Info("created identity key", zap.String("fingerprint", d.id.Fingerprint()))
	}
	if d.store, err = store.Open(filepath.Join(cfg.DataDir, "chatd.db"), log.Named("store")); err != nil {
		return nil, err
	}
	if err := d.loadBlocked(context.Background()); err != nil {
		return nil, err
	}
	d.tracker = client.New(cfg.Tracker, nil)
	pc := cfg.Peer
	d.peers, err = peer.NewManager(peer.Config{
		Identity: d.id, Name: cfg.Name, ListenAddr: cfg.Listen,
		Resolver: d, Authorizer: d, Handler: d, Log: log.Named("peer"),
		KeepAlive: pc.KeepAlive.Duration, IdleTimeout: pc.IdleTimeout.Duration,
		HandshakeTimeout: pc.HandshakeTimeout.Duration,
		BackoffMin:       pc.BackoffMin.Duration, BackoffMax: pc.BackoffMax.Duration,
		MaxSessions: pc.MaxSessions, MaxStrangerSessions: pc.MaxStrangerSessions,
		MaxSessionsPerKey: pc.MaxSessionsPerKey,
		SelfAddrs:         d.directAddrs,
		Dialable:          d.dialable,
	})
	if err != nil {
		return nil, fmt.Errorf("listen for peers on %s: %w", cfg.Listen, err)
	}
	listen, err := netip.ParseAddrPort(d.peers.Addr().String())
	if err != nil {
		return nil, fmt.Errorf("parse listen address: %w", err)
	}
	listen = netip.AddrPortFrom(listen.Addr().Unmap(), listen.Port())
	d.announcer = client.New(cfg.Tracker, presence.HTTPClient(listen))
	if d.reach, err = d.newReach(cfg, log); err != nil {
		return nil, err
	}
	if cfg.PortMap.Enabled && !listen.Addr().IsLoopback() {
		if d.portmap, err = portmap.New(portmap.Config{
			InternalPort:  listen.Port(),
			InternalAddr:  listen.Addr(),
			ExternalPort:  cfg.PortMap.ExternalPort,
			Protocols:     cfg.PortMap.Protocols,
			Lease:         cfg.PortMap.Lease.Duration,
			CheckInterval: cfg.PortMap.CheckInterval.Duration,
			OnChange: func(portmap.Status) {
				d.presence.Kick()
				d.reach.Kick() // a public mapping makes the relay unnecessary
			},
			Log: log.Named("portmap"),
		}); err != nil {
			return nil, err
		}
	}
	d.presence, err = presence.New(presence.Config{
		Name: cfg.Name, Key: d.id.Private,
		Tracker:         d.announcer,
		Listen:          listen,
		RecordTTL:       cfg.Presence.RecordTTL.Duration,
		CheckInterval:   cfg.Presence.CheckInterval.Duration,
		ObserveInterval: cfg.Presence.ObserveInterval.Duration,
		BackoffMax:      cfg.Presence.BackoffMax.Duration,
		Extra:           d.extraAddrs,
		OnReachability:  func(presence.Status) { d.reach.Kick() },
		Log:             log.Named("presence"),
	})
	if err != nil {
		return nil, err
	}
	if err := d.listenControl(o); err != nil {
		return nil, err
	}
	return d, nil
}

// Run serves until ctx is cancelled, then stops every part, closes the store
// and returns. It returns nil on cancellation; an error only when a part
// failed in a way chatd cannot continue from (the name belongs to another
// key, the control socket died).
func (d *Daemon) Run(ctx context.Context) error {
	defer d.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				d.log.Error(name+" stopped", zap.Error(err))
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	run("peer sessions", d.peers.Run)
	run("tracker presence", d.presence.Run)
	if d.portmap != nil {
		run("port mapping", d.portmap.Run) // deletes the mapping on the way out
	}
	run("relay reservation", d.reach.Run)
	run("event log pruning", d.pruneEvents)
	if d.ctlLn != nil {
		run("control socket", d.serveControl)
	}
	d.resumeOutbox(ctx)
	d.log.Info("chatd running", zap.String("name", d.cfg.Name),
		zap.Stringer("listen", d.peers.Addr()), zap.String("fingerprint", d.id.Fingerprint()))
	d.mainLoop(ctx)
	d.notify.Stopping()
	d.peers.Close()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// extraAddrs are the addresses published beside the local and observed
// ones: the router's public port mapping and the relay reservation.
func (d *Daemon) extraAddrs() []string {
	var out []string
	if pub := d.publicMapping(); pub.IsValid() {
		out = append(out, pub.String())
	}
	return append(out, d.reach.Addrs()...)
}

// publicMapping is the router's public port mapping, if any.
func (d *Daemon) publicMapping() netip.AddrPort {
	if d.portmap == nil {
		return netip.AddrPort{}
	}
	return d.portmap.Public()
}

// newReach sets up the relay reservation from the [relay] config.
func (d *Daemon) newReach(cfg config.Config, log *zap.Logger) (*reach.Service, error) {
	var relays []relay.Addr
	if cfg.Relay.Reserve != config.ReserveNever {
		for _, s := range cfg.Relay.Servers {
			a, err := relay.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("relay server %q in the config: %w", s, err)
			}
			relays = append(relays, a)
		}
	}
	return reach.New(reach.Config{
		Relays: relays, Key: d.id.Private,
		Need:     func() bool { return cfg.Relay.Reserve == config.ReserveAlways || d.needRelay() },
		Serve:    func(c net.Conn) { d.peers.Serve(c, peer.PathRelayed) },
		OnChange: func() { d.presence.Kick() },
		Log:      log.Named("relay"),
	})
}

// needRelay: without a public port mapping, or a tracker dial-back that got
// through, nobody can be sure to dial us.
func (d *Daemon) needRelay() bool { return !d.dialable() }

// directAddrs are the addresses a relayed peer may try to reach us on
// directly: the record's, and the address the tracker observes (the NAT's
// mapping of our port) even before a record with it is published.
func (d *Daemon) directAddrs() []string {
	st := d.presence.Status()
	out := slices.Clone(st.Addrs)
	if o := st.Observed.String(); st.Observed.IsValid() && !slices.Contains(out, o) {
		out = append(out, o)
	}
	return out
}

// dialable reports whether peers can dial us directly: the router forwards
// our port, or the tracker's dial-back to our observed address got through.
func (d *Daemon) dialable() bool {
	return d.publicMapping().IsValid() || d.presence.Status().Reachable == presence.Reachable
}

// pruneEvents bounds the event log to KeepEvents, at start and every
// PruneInterval, so that no flood of events (receipts, presence, refused
// keys) can fill the disk.
func (d *Daemon) pruneEvents(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := d.store.PruneEvents(ctx, max(d.cfg.KeepEvents, 1)); err != nil && ctx.Err() == nil {
			d.log.Warn("prune event log", zap.Error(err))
		}
		t.Reset(d.cfg.PruneInterval.Duration)
	}
}

// resumeOutbox asks for sessions to every peer with undelivered messages,
// so a restart picks up where it stopped.
func (d *Daemon) resumeOutbox(ctx context.Context) {
	peers, err := d.store.PendingPeers(ctx)
	if err != nil {
		d.log.Warn("read outbox", zap.Error(err))
		return
	}
	for _, p := range peers {
		d.peers.Notify(p)
	}
}

// Close releases everything New acquired. It is safe to call more than once
// and is called by Run on the way out.
func (d *Daemon) Close() error {
	var err error
	d.closeOnce.Do(func() {
		if d.ctlLn != nil {
			d.ctlLn.Close()
		}
		if d.peers != nil {
			d.peers.Close()
		}
		for _, c := range []*client.Client{d.tracker, d.announcer} {
			if c != nil {
				c.HTTP.CloseIdleConnections()
			}
		}
		if d.store != nil {
			err = d.store.Close()
		}
	})
	return err
}

// Fingerprint is the user's own key fingerprint.
func (d *Daemon) Fingerprint() string { return d.id.Fingerprint() }

// PeerAddr is the address peer sessions are accepted on.
func (d *Daemon) PeerAddr() net.Addr { return d.peers.Addr() }

// Presence reports the tracker presence state.
func (d *Daemon) Presence() presence.Status { return d.presence.Status() }
