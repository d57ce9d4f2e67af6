// Package presence keeps a user's signed record on the tracker fresh.
//
// A Presence registers the record on first start and then re-announces it:
// when the tracker's reannounce_after comes due, at once when Kick is called
// (the port mapping changed), and within one CheckInterval when the
// addresses change — the local interface addresses (only when chatd listens
// on a wildcard address), the router's port mapping, or the
// server-reflexive address the tracker reports seeing us from. Requests to
// the tracker are dialled from the daemon's listening port (SO_REUSEPORT), so
// the observed address is the NAT's mapping of the port peers must reach.
// When the tracker is unreachable it backs off exponentially, and everything
// else in the daemon keeps working.
//
// Some announces also ask the tracker to dial the observed address back
// (reach.go says which); Status.Reachable says whether it got through,
// which is how the daemon knows whether peers can dial it directly.
//
//	p, _ := presence.New(presence.Config{Name: "alice", Key: priv, Tracker: tc, Listen: addr})
//	go p.Run(ctx) // until ctx is cancelled
package presence

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/backoff"
	"github.com/p2pchat/p2pchat/internal/defaults"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// Config configures a Presence.
type Config struct {
	Name    string
	Key     ed25519.PrivateKey
	Tracker *client.Client
	// Listen is the address chatd accepts peers on. A wildcard host
	// publishes the interface addresses: those of both families for ::
	// (a dual-stack socket), IPv4 ones for 0.0.0.0. A specific host
	// publishes that address alone.
	Listen netip.AddrPort
	// RecordTTL is the lifetime written into each record.
	RecordTTL time.Duration
	// CheckInterval is how often local addresses are re-checked.
	CheckInterval time.Duration
	// ObserveInterval is how often the tracker is asked which address it
	// sees us from, to notice a NAT's public address changing.
	ObserveInterval time.Duration
	// BackoffMin and BackoffMax bound retries while the tracker fails.
	BackoffMin, BackoffMax time.Duration
	// Interfaces lists local addresses; nil means net.InterfaceAddrs.
	Interfaces func() ([]netip.Addr, error)
	// Extra, if set, returns addresses published beside the local and
	// observed ones, and kept when the record is full: the router's public
	// port mapping and relay reservations (relay://...). Call Kick when
	// they change.
	Extra func() []string
	// OnChange, if set, is called (from Run's goroutine) after every
	// successful announce.
	OnChange func(Status)
	Log      *zap.Logger
	Now      func() time.Time

	// DialbackInterval is how long the tracker's answer to "can you dial
	// me back?" stands before an announce asks again (see reach.go).
	DialbackInterval time.Duration
	// OnReachability, if set, is called (from Run's goroutine) when
	// Status.Reachable changes.
	OnReachability func(Status)
}

// Status is what the daemon reports about its tracker presence.
type Status struct {
	Registered   bool
	Seq          uint64
	Addrs        []string
	Observed     netip.AddrPort
	LastAnnounce time.Time
	NextAnnounce time.Time
	LastError    string
	// Reachable is whether the tracker could connect back to Observed,
	// as of ReachableAt (the last answer).
	Reachable   Reachability
	ReachableAt time.Time
}

// Defaults for zero Config durations.
const (
	DefaultRecordTTL       = time.Hour
	DefaultCheckInterval   = 5 * time.Second
	DefaultObserveInterval = 30 * time.Second
	DefaultBackoffMin      = time.Second
	DefaultBackoffMax      = 5 * time.Minute
)

// ErrNameTaken means another key holds the name on the tracker: chatd cannot
// announce itself until the user picks another name.
var ErrNameTaken = errors.New("name is registered to another key")

// Presence owns the announce loop. Its methods are safe for concurrent use.
type Presence struct {
	cfg  Config
	log  *zap.Logger
	kick chan struct{}

	// announcing is held for each announce and by Unregister, so that no
	// announce re-registers a name just deleted.
	announcing sync.Mutex

	mu           sync.Mutex // guards status, seq and unregistered
	status       Status
	seq          uint64
	unregistered bool // set by Unregister: Run announces nothing more
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Presence, error) {
	if err := record.ValidateName(cfg.Name); err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	if len(cfg.Key) != ed25519.PrivateKeySize || cfg.Tracker == nil {
		return nil, errors.New("presence: key and tracker client are required")
	}
	defaults.Set(&cfg.RecordTTL, DefaultRecordTTL)
	defaults.Set(&cfg.CheckInterval, DefaultCheckInterval)
	defaults.Set(&cfg.ObserveInterval, DefaultObserveInterval)
	defaults.Set(&cfg.BackoffMin, DefaultBackoffMin)
	defaults.Set(&cfg.BackoffMax, DefaultBackoffMax)
	defaults.Set(&cfg.DialbackInterval, DefaultDialbackInterval)
	if cfg.Interfaces == nil {
		cfg.Interfaces = InterfaceAddrs
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &Presence{cfg: cfg, log: cfg.Log, kick: make(chan struct{}, 1)}, nil
}

// Status returns a snapshot of the presence state.
func (p *Presence) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status
	s.Addrs = slices.Clone(s.Addrs)
	return s
}

// Kick asks Run to re-check and re-announce now.
func (p *Presence) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run announces until ctx is cancelled. It returns nil on cancellation and
// ErrNameTaken (wrapped) if the name belongs to someone else.
func (p *Presence) Run(ctx context.Context) error {
	var (
		published []string       // addresses in the record on the tracker
		observed  netip.AddrPort // what the tracker last reported
		due       time.Time      // when the record must be re-announced
		observeAt time.Time      // when to ask the tracker what it sees
		dialback  = reach{interval: p.cfg.DialbackInterval}
	)
	bo := backoff.New(p.cfg.BackoffMin, p.cfg.BackoffMax)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-p.kick:
			due = time.Time{}
			dialback.recheck()
		}
		if p.isUnregistered() {
			continue // the timer stays stopped: nothing to do until ctx ends
		}
		addrs := p.addrs(observed)
		now := p.cfg.Now()
		if published != nil && slices.Equal(addrs, published) && now.Before(due) && !now.Before(observeAt) {
			// Nothing changed locally; ask the tracker what it sees, since
			// the local view cannot tell when a NAT's public address moves.
			observeAt = now.Add(p.cfg.ObserveInterval)
			if obs, err := p.observe(ctx); err == nil && obs != observed && obs.IsValid() && obs.Port() != 0 {
				p.log.Info("observed address changed", zap.Stringer("old", observed), zap.Stringer("new", obs))
				observed = obs
				addrs = p.addrs(observed)
			}
		}
		wait := p.cfg.CheckInterval
		if published == nil || !slices.Equal(addrs, published) || !now.Before(due) {
			ann, err := p.announce(ctx, addrs, dialback.due(observed, now))
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, ErrUnregistered):
				continue
			case errors.Is(err, ErrNameTaken):
				p.fail(err)
				return fmt.Errorf("announce %q: %w", p.cfg.Name, err)
			case err != nil:
				wait = bo.Next()
				p.fail(err)
				p.log.Warn("tracker announce failed; retrying", zap.Error(err), zap.Duration("retry_in", wait))
			default:
				bo.Reset()
				if ann.Observed.IsValid() && ann.Observed.Port() != 0 && ann.Observed != observed {
					observed = ann.Observed
					if a := p.addrs(observed); !slices.Equal(a, addrs) {
						wait = 0 // publish the newly learned address right away
					}
				}
				published = addrs
				observeAt = p.cfg.Now().Add(p.cfg.ObserveInterval)
				due = p.cfg.Now().Add(reannounceIn(ann.ReannounceAfter, p.cfg.RecordTTL))
				reachChanged := p.setReachability(dialback.answer(ann, p.cfg.Now()))
				p.succeed(addrs, observed, due)
				if reachChanged && p.cfg.OnReachability != nil {
					p.cfg.OnReachability(p.Status())
				}
			}
		}
		if bo.Failures() > 0 {
			timer.Reset(wait) // failing: the backoff, even when the record is overdue
		} else {
			timer.Reset(min(wait, max(0, time.Until(due))))
		}
	}
}

func reannounceIn(after, ttl time.Duration) time.Duration {
	if after <= 0 || after > ttl/2 {
		return ttl / 2
	}
	return after
}

func (p *Presence) fail(err error) {
	p.mu.Lock()
	p.status.LastError = err.Error()
	p.mu.Unlock()
}

func (p *Presence) succeed(addrs []string, observed netip.AddrPort, due time.Time) {
	p.mu.Lock()
	p.status.Registered = true
	p.status.Seq = p.seq
	p.status.Addrs = addrs
	p.status.Observed = observed
	p.status.LastAnnounce = p.cfg.Now()
	p.status.NextAnnounce = due
	p.status.LastError = ""
	s := p.status
	p.mu.Unlock()
	if p.cfg.OnChange != nil {
		p.cfg.OnChange(s)
	}
}

// observe looks our own record up to learn the address the tracker sees.
func (p *Presence) observe(ctx context.Context) (netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, ann, err := p.cfg.Tracker.Lookup(ctx, p.cfg.Name)
	if err != nil && !errors.Is(err, client.ErrExpired) {
		return netip.AddrPort{}, err
	}
	return ann.Observed, nil
}

// addrs is the address list to publish, sorted so that comparisons are
// stable: the listen address or the interface addresses, plus the
// server-reflexive address when it differs.
func (p *Presence) addrs(observed netip.AddrPort) []string {
	port := p.cfg.Listen.Port()
	var out []string
	if ip := p.cfg.Listen.Addr(); !ip.IsUnspecified() {
		out = append(out, netip.AddrPortFrom(ip, port).String())
	} else if ifs, err := p.cfg.Interfaces(); err != nil {
		p.log.Warn("list interface addresses", zap.Error(err))
	} else {
		for _, ip := range ifs {
			if publishable(ip, p.cfg.Listen.Addr()) {
				out = append(out, netip.AddrPortFrom(ip, port).String())
			}
		}
	}
	if s := observed.String(); observed.IsValid() && !slices.Contains(out, s) {
		out = append(out, s)
	}
	slices.Sort(out)
	var extra []string
	if p.cfg.Extra != nil {
		for _, s := range p.cfg.Extra() {
			if !slices.Contains(out, s) && !slices.Contains(extra, s) {
				extra = append(extra, s)
			}
		}
	}
	extra = extra[:min(len(extra), record.MaxAddrs)]
	out = out[:min(len(out), record.MaxAddrs-len(extra))]
	return append(out, extra...)
}

// publishable reports whether ip is worth telling peers about when listening
// on the wildcard wild: unicast, not loopback or link-local, and of the
// listening family (an IPv4 wildcard does not accept IPv6).
func publishable(ip, wild netip.Addr) bool {
	if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	return !wild.Is4() || ip.Is4()
}

// InterfaceAddrs lists the machine's interface addresses.
func InterfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("interface addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range as {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, pfx.Addr().Unmap())
		}
	}
	return out, nil
}
