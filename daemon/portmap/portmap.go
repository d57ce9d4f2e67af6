// Package portmap opens chatd's listening port on the home router and keeps
// it open: it asks the gateway for a TCP port mapping with UPnP IGD (through
// huin/goupnp), PCP (RFC 6887) or NAT-PMP (RFC 6886), renews the lease at
// half its lifetime, notices when the router restarts, loses the mapping or
// gets a new public address, and deletes the mapping when chatd stops.
//
// A Service is one such lease, owned by the daemon like presence:
//
//	s, _ := portmap.New(portmap.Config{InternalPort: 7171, OnChange: kick})
//	go s.Run(ctx)       // until ctx is cancelled; then deletes the mapping (2 s budget)
//	st := s.Status()    // method, gateway, external address, lease, last error
//	pub := s.Public()   // the mapped address to publish, if it is public
//
// Discovery probes all three protocols at once (UPnP by an SSDP search sent
// to the default gateway and to the SSDP multicast group, PCP by an
// ANNOUNCE, NAT-PMP by an external-address request) and, of those that
// answer within ProbeWindow, prefers UPnP, then PCP, then NAT-PMP; if none
// answers in the window, the first to answer later wins. The gateway found
// is kept while its mapping holds; discovery runs again only after a
// failure or a change of the default route or of our address.
//
// Nothing that can fail runs after a mapping is added: the external address
// is read first, so a failed call never leaves a rule on the router that
// nobody will delete. A mapping left by a crashed chatd (same description,
// internal client and port) is found and reused on the next start, never
// duplicated. An external address that is private, shared (100.64/10) or
// unspecified means another NAT stands in front of the router: the mapping
// is kept and reported, but Public returns nothing, so it is not published
// as if peers could reach it.
//
// The caller decides whether to run a Service at all: chatd does not when it
// listens on a loopback address, so nothing is ever sent then.
package portmap

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/backoff"
	"github.com/p2pchat/p2pchat/internal/defaults"
)

// Methods, as reported in Status.Method.
const (
	MethodUPnP   = "upnp"
	MethodPCP    = "pcp"
	MethodNATPMP = "nat-pmp"
)

// States, as reported in Status.State.
const (
	StateProbing   = "probing"    // looking for a gateway
	StateNoGateway = "no gateway" // nothing answered; tried again with backoff
	StateMapped    = "mapped"     // a mapping is held
	StateFailed    = "failed"     // a gateway answered but mapping failed; retried with backoff
	StateStopped   = "stopped"    // Run has returned
)

// Default lease lifetimes asked for, and the bounds of the loop's timers.
const (
	UPnPLease        = time.Hour
	PMPLease         = 2 * time.Hour // NAT-PMP and PCP
	PermanentRefresh = 20 * time.Minute
	DeleteBudget     = 2 * time.Second
)

// Defaults for zero Config fields.
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultProbeWindow   = 250 * time.Millisecond
	DefaultProbeTimeout  = 3 * time.Second
	DefaultBackoffMin    = 2 * time.Second
	DefaultBackoffMax    = 5 * time.Minute
)

// Config configures a Service.
type Config struct {
	// InternalPort is the TCP port chatd listens on (required).
	InternalPort uint16
	// InternalAddr is the address chatd listens on; when it is unspecified
	// (a wildcard listen), the local address facing the gateway is used.
	InternalAddr netip.Addr
	// ExternalPort is the external port wanted; 0 means InternalPort.
	ExternalPort uint16
	// Protocols lists the protocols to try, of MethodUPnP, MethodPCP and
	// MethodNATPMP; nil means all three.
	Protocols []string
	// Description labels UPnP mappings; a mapping with the same description
	// and internal client left by a crash is reclaimed on start.
	Description string
	// Lease is the lifetime asked for; 0 means UPnPLease for UPnP and
	// PMPLease for NAT-PMP and PCP. The mapping is renewed at half the
	// lifetime the gateway grants.
	Lease time.Duration
	// CheckInterval is how often the gateway is asked whether the mapping
	// and the external address still stand.
	CheckInterval time.Duration
	// ProbeWindow is how long discovery waits for the preferred protocol
	// once one has answered; ProbeTimeout bounds a whole discovery round.
	ProbeWindow, ProbeTimeout time.Duration
	// BackoffMin and BackoffMax bound retries after failures.
	BackoffMin, BackoffMax time.Duration
	// Gateway returns the default gateway and the local address that faces
	// it; nil reads the routing table. Tests point it at a fake gateway.
	Gateway func() (gw, self netip.Addr, err error)
	// OnChange, if set, is called from Run's goroutine after each change of
	// the mapping (new, renewed to another address or port, lost, deleted).
	OnChange func(Status)
	Log      *zap.Logger
}

func (c *Config) fill() error {
	if c.InternalPort == 0 {
		return errors.New("portmap: internal port is required")
	}
	if c.Protocols == nil {
		c.Protocols = []string{MethodUPnP, MethodPCP, MethodNATPMP}
	}
	for _, p := range c.Protocols {
		if p != MethodUPnP && p != MethodPCP && p != MethodNATPMP {
			return fmt.Errorf("portmap: unknown protocol %q (want %s, %s or %s)", p, MethodUPnP, MethodPCP, MethodNATPMP)
		}
	}
	if len(c.Protocols) == 0 {
		return errors.New("portmap: no protocol to try")
	}
	defaults.Set(&c.CheckInterval, DefaultCheckInterval)
	defaults.Set(&c.ProbeWindow, DefaultProbeWindow)
	defaults.Set(&c.ProbeTimeout, DefaultProbeTimeout)
	defaults.Set(&c.BackoffMin, DefaultBackoffMin)
	defaults.Set(&c.BackoffMax, DefaultBackoffMax)
	defaults.Set(&c.ExternalPort, c.InternalPort)
	defaults.Set(&c.Description, "p2pchat chatd")
	if c.Gateway == nil {
		c.Gateway = DefaultGateway
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return nil
}

// Mapping is a port mapping held on a gateway.
type Mapping struct {
	Internal  netip.AddrPort // our address and port as the gateway sees them
	External  netip.AddrPort // the router's external address and mapped port
	Lifetime  time.Duration  // granted; 0 when Permanent
	Permanent bool           // the gateway grants only leases without expiry
	Expires   time.Time      // zero when Permanent
}

// Status is a snapshot of the service.
type Status struct {
	State     string
	Method    string // MethodUPnP, MethodPCP or MethodNATPMP, once a gateway answered
	Gateway   string // the gateway's address (UPnP: its control URL's host)
	External  netip.AddrPort
	Expires   time.Time // lease expiry; zero when permanent or unmapped
	Permanent bool
	// BehindNAT is set when the external address is not public (private,
	// shared 100.64/10 or unspecified): another NAT stands in front.
	BehindNAT bool
	LastError string
}

// Public is the mapped address peers can dial, or the zero AddrPort when
// there is none or it is not public.
func (s Status) Public() netip.AddrPort {
	if s.State != StateMapped || s.BehindNAT {
		return netip.AddrPort{}
	}
	return s.External
}

// gateway is one protocol's client for one gateway. Each implementation
// bounds every call by ctx.
type gateway interface {
	method() string
	addr() string
	// externalAddr reads the router's external address. For PCP and
	// NAT-PMP it also checks the epoch: errRestarted means the gateway
	// restarted and its mappings are gone.
	externalAddr(ctx context.Context) (netip.Addr, error)
	// mapPort adds (or renews) a mapping to internal from the first free
	// external port of prefer, else from any port the gateway gives. ext
	// is the external address read just before.
	mapPort(ctx context.Context, internal netip.AddrPort, prefer []uint16, ext netip.Addr) (Mapping, error)
	// check reports whether m still stands on the gateway.
	check(ctx context.Context, m Mapping) error
	unmap(ctx context.Context, m Mapping) error
	close()
}

var (
	errRestarted = errors.New("gateway restarted (its epoch went back)")
	errLost      = errors.New("mapping is gone from the gateway")
	errNoGateway = errors.New("no gateway answered")
)

// Service holds one port mapping. Its methods are safe for concurrent use.
type Service struct {
	cfg Config
	log *zap.Logger

	mu     sync.Mutex // guards status
	status Status
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Service, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Log, status: Status{State: StateProbing}}, nil
}

// Status returns a snapshot.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Public is Status().Public().
func (s *Service) Public() netip.AddrPort { return s.Status().Public() }

// Run holds the mapping until ctx is cancelled, then deletes it within
// DeleteBudget and returns nil. Failures are retried with backoff, never
// returned.
func (s *Service) Run(ctx context.Context) error {
	l := &loop{s: s, bo: backoff.New(s.cfg.BackoffMin, s.cfg.BackoffMax)}
	defer l.shutdown()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		timer.Reset(l.step(ctx))
	}
}

// loop is Run's state; only Run's goroutine touches it.
type loop struct {
	s        *Service
	bo       *backoff.Backoff
	gw       gateway
	route    route    // the default gateway and our address facing it, when gw was found
	cur      *Mapping // held on gw
	renewAt  time.Time
	lastPort uint16 // the external port last held, tried after the configured one
}

// route is the default gateway and the local address that faces it.
type route struct{ gw, self netip.Addr }

// step does what is due and returns how long to wait before the next step.
func (l *loop) step(ctx context.Context) time.Duration {
	cfg := l.s.cfg
	r, err := l.readRoute()
	if err != nil {
		return l.fail(ctx, StateNoGateway, err)
	}
	if l.gw != nil && r != l.route {
		l.s.log.Info("local address or default gateway changed; looking for the gateway again",
			zap.Stringer("gateway", r.gw), zap.Stringer("local", r.self))
		l.release()
	}
	if l.gw == nil {
		if err := l.discover(ctx, r); err != nil {
			return l.fail(ctx, StateNoGateway, err)
		}
	}
	if l.cur != nil && time.Now().Before(l.renewAt) {
		err := l.gw.check(ctx, *l.cur)
		if err == nil {
			return min(cfg.CheckInterval, time.Until(l.renewAt))
		}
		if ctx.Err() != nil {
			return 0
		}
		l.s.log.Info("port mapping needs renewing", zap.String("reason", err.Error()))
	}
	if err := l.mapPort(ctx); err != nil {
		return l.fail(ctx, StateFailed, err)
	}
	l.bo.Reset()
	return min(cfg.CheckInterval, time.Until(l.renewAt))
}

func (l *loop) readRoute() (route, error) {
	gw, self, err := l.s.cfg.Gateway()
	if err != nil {
		return route{}, fmt.Errorf("find default gateway: %w", err)
	}
	if a := l.s.cfg.InternalAddr; a.IsValid() && !a.IsUnspecified() {
		self = a
	}
	return route{gw: gw.Unmap(), self: self.Unmap()}, nil
}

// release deletes the mapping, best effort within DeleteBudget, and
// forgets the gateway.
func (l *loop) release() error {
	var err error
	if l.gw != nil && l.cur != nil {
		ctx, cancel := context.WithTimeout(context.Background(), DeleteBudget)
		err = l.gw.unmap(ctx, *l.cur)
		cancel()
	}
	l.forget()
	return err
}

// forget drops the gateway; a mapping still on it is reclaimed (same
// description, client and port) when the gateway is found again.
func (l *loop) forget() {
	if l.gw != nil {
		l.gw.close()
	}
	l.gw, l.cur = nil, nil
}

func (l *loop) discover(ctx context.Context, r route) error {
	l.forget()
	gw, err := probe(ctx, l.s.cfg, r)
	if err != nil {
		return err
	}
	l.gw, l.route = gw, r
	l.s.log.Info("found gateway", zap.String("method", gw.method()), zap.String("gateway", gw.addr()))
	return nil
}

// mapPort reads the external address, then adds or renews the mapping.
func (l *loop) mapPort(ctx context.Context) error {
	cfg := l.s.cfg
	ext, err := l.gw.externalAddr(ctx)
	if err != nil {
		return fmt.Errorf("read external address: %w", err)
	}
	internal := netip.AddrPortFrom(l.route.self, cfg.InternalPort)
	prefer := []uint16{cfg.ExternalPort}
	if l.cur != nil {
		prefer = []uint16{l.cur.External.Port()} // a renewal keeps its port
	} else if l.lastPort != 0 && l.lastPort != cfg.ExternalPort {
		prefer = append(prefer, l.lastPort)
	}
	m, err := l.gw.mapPort(ctx, internal, prefer, ext)
	if err != nil {
		return fmt.Errorf("map tcp port %d: %w", cfg.InternalPort, err)
	}
	l.lastPort = m.External.Port()
	changed := l.cur == nil || l.cur.External != m.External
	l.cur = &m
	l.renewAt = time.Now().Add(renewIn(m))
	st := Status{
		State: StateMapped, Method: l.gw.method(), Gateway: l.gw.addr(),
		External: m.External, Expires: m.Expires, Permanent: m.Permanent,
		BehindNAT: !isPublic(m.External.Addr()),
	}
	if changed {
		l.s.log.Info("port mapped", zap.String("method", st.Method), zap.String("gateway", st.Gateway),
			zap.Stringer("external", m.External), zap.Stringer("internal", m.Internal),
			zap.Duration("lease", m.Lifetime), zap.Bool("permanent", m.Permanent),
			zap.Bool("behind_another_nat", st.BehindNAT))
	}
	l.s.set(st, changed)
	return nil
}

// renewIn is when to renew: at half the granted lifetime, or every
// PermanentRefresh for a permanent mapping.
func renewIn(m Mapping) time.Duration {
	if m.Permanent || m.Lifetime <= 0 {
		return PermanentRefresh
	}
	return max(m.Lifetime/2, time.Second)
}

// fail records err, forgets a gateway that no longer serves us, and returns
// the backoff delay. The log gets one line per change of state or error,
// not one per retry.
func (l *loop) fail(ctx context.Context, state string, err error) time.Duration {
	if ctx.Err() != nil {
		return 0
	}
	lost := l.cur != nil
	l.forget() // discover again: the gateway may have moved or restarted
	prev := l.s.Status()
	st := Status{State: state, LastError: err.Error()}
	if prev.State != st.State || prev.LastError != st.LastError {
		l.s.log.Warn("port mapping unavailable", zap.String("state", state), zap.Error(err))
	}
	l.s.set(st, lost)
	return l.bo.Next()
}

// shutdown deletes the mapping within DeleteBudget.
func (l *loop) shutdown() {
	held := l.cur
	err := l.release()
	st := Status{State: StateStopped}
	switch {
	case held == nil:
	case err != nil:
		st.LastError = fmt.Sprintf("delete mapping: %v", err)
		l.s.log.Warn("delete port mapping", zap.Stringer("external", held.External), zap.Error(err))
	default:
		l.s.log.Info("port mapping deleted", zap.Stringer("external", held.External))
	}
	l.s.set(st, held != nil)
}

func (s *Service) set(st Status, notify bool) {
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
	if notify && s.cfg.OnChange != nil {
		s.cfg.OnChange(st)
	}
}

// sameExternal fails when the gateway now reports another external address
// than m was made with.
func sameExternal(got netip.Addr, m Mapping) error {
	if got != m.External.Addr() {
		return fmt.Errorf("external address changed from %s to %s", m.External.Addr(), got)
	}
	return nil
}

var sharedNAT = netip.MustParsePrefix("100.64.0.0/10")

// isPublic reports whether a is an address peers on the internet can reach:
// not private, shared (CGNAT), loopback, link-local or unspecified.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !sharedNAT.Contains(a)
}
