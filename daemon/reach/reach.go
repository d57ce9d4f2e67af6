// Package reach keeps a daemon reachable when nothing can dial it directly:
// it holds a reservation on a relay of last resort (see package relay),
// publishes the relay's address (relay://HOST:PORT/KEY) for the record, and
// hands every connection that comes through the relay to the peer manager,
// which runs the usual end-to-end TLS handshake over it.
//
// A Service is owned by the daemon like presence and portmap:
//
//	s, _ := reach.New(reach.Config{Relays: addrs, Key: priv, Need: needRelay, Serve: serve, OnChange: kick})
//	go s.Run(ctx)    // until ctx is cancelled
//	addrs := s.Addrs() // the relay address to publish while a reservation is held
//
// Need is asked every CheckInterval (and on Kick): a daemon with a public
// port mapping or a tracker dial-back that got through does not need a
// relay, and drops its reservation. Reservations are tried on the relays
// in turn, with backoff after a failure; one that ends (the relay
// restarted, the connection died) is made again at once.
package reach

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/backoff"
	"github.com/p2pchat/p2pchat/internal/defaults"
	"github.com/p2pchat/p2pchat/relay"
)

// States, as reported in Status.State.
const (
	StateOff       = "off"        // no relay configured
	StateNotNeeded = "not needed" // directly reachable: no reservation held
	StateReserving = "reserving"  // asking a relay
	StateReserved  = "reserved"   // a reservation is held
	StateFailed    = "failed"     // the last attempt failed; retried with backoff
)

// Defaults for zero Config fields.
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultBackoffMin    = time.Second
	DefaultBackoffMax    = 2 * time.Minute
)

// Config configures a Service.
type Config struct {
	Relays []relay.Addr
	Key    ed25519.PrivateKey
	// Need reports whether a reservation is needed now; nil means always.
	Need func() bool
	// Serve takes each connection that arrives through the relay.
	Serve func(net.Conn)
	// OnChange, if set, is called from Run's goroutine when the address to
	// publish changes (a reservation made or lost).
	OnChange      func()
	CheckInterval time.Duration
	BackoffMin    time.Duration
	BackoffMax    time.Duration
	Log           *zap.Logger
}

// Status is a snapshot of the service.
type Status struct {
	State     string
	Relay     string    // the relay held or tried, relay://...
	Since     time.Time // when the state began
	LastError string
}

// Service holds at most one relay reservation. Its methods are safe for
// concurrent use.
type Service struct {
	cfg  Config
	log  *zap.Logger
	kick chan struct{}

	mu     sync.Mutex // guards status
	status Status
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Service, error) {
	if len(cfg.Relays) > 0 && (len(cfg.Key) != ed25519.PrivateKeySize || cfg.Serve == nil) {
		return nil, errors.New("reach: key and Serve are required")
	}
	defaults.Set(&cfg.CheckInterval, DefaultCheckInterval)
	defaults.Set(&cfg.BackoffMin, DefaultBackoffMin)
	defaults.Set(&cfg.BackoffMax, DefaultBackoffMax)
	if cfg.Need == nil {
		cfg.Need = func() bool { return true }
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	st := Status{State: StateOff, Since: time.Now()}
	if len(cfg.Relays) > 0 {
		st.State = StateReserving
	}
	return &Service{cfg: cfg, log: cfg.Log, kick: make(chan struct{}, 1), status: st}, nil
}

// Status returns a snapshot.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Addrs is what to publish in the record: the relay's address while a
// reservation is held.
func (s *Service) Addrs() []string {
	st := s.Status()
	if st.State != StateReserved {
		return nil
	}
	return []string{st.Relay}
}

// Kick asks Run to look at Need now.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run holds a reservation whenever Need says so, until ctx is cancelled.
// It returns nil.
func (s *Service) Run(ctx context.Context) error {
	if len(s.cfg.Relays) == 0 {
		<-ctx.Done()
		return nil
	}
	bo := backoff.New(s.cfg.BackoffMin, s.cfg.BackoffMax)
	next := 0 // the relay to try
	for ctx.Err() == nil {
		if !s.cfg.Need() {
			s.set(Status{State: StateNotNeeded}, false)
			s.wait(ctx, s.cfg.CheckInterval)
			continue
		}
		a := s.cfg.Relays[next]
		s.set(Status{State: StateReserving, Relay: a.String()}, false)
		res, err := relay.Reserve(ctx, a, s.cfg.Key, nil)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.failed(a, err)
			next = (next + 1) % len(s.cfg.Relays)
			s.wait(ctx, bo.Next())
			continue
		}
		bo.Reset()
		s.log.Info("relay reservation held", zap.String("relay", a.String()))
		s.set(Status{State: StateReserved, Relay: a.String()}, true)
		err = s.hold(ctx, res)
		s.set(Status{State: StateReserving, Relay: a.String()}, true)
		if err != nil && ctx.Err() == nil {
			s.log.Info("relay reservation ended; reserving again", zap.String("relay", a.String()), zap.Error(err))
		}
	}
	s.set(Status{State: StateOff}, false)
	return nil
}

// hold serves res until it ends, ctx is cancelled or it is no longer
// needed, and closes it. Its accept loop has stopped when it returns.
func (s *Service) hold(ctx context.Context, res *relay.Reservation) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, _, err := res.Accept(ctx)
			if err != nil {
				if errors.Is(err, relay.ErrClosed) || ctx.Err() != nil {
					return
				}
				continue // one caller failed; the next may not
			}
			s.cfg.Serve(conn)
		}
	})
	defer wg.Wait()
	defer res.Close()
	t := time.NewTicker(s.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-res.Done():
			return res.Err()
		case <-s.kick:
		case <-t.C:
		}
		if !s.cfg.Need() {
			s.log.Info("directly reachable; dropping the relay reservation")
			return nil
		}
	}
}

// failed records a failed reservation, logging only a change of error.
func (s *Service) failed(a relay.Addr, err error) {
	prev := s.Status()
	if prev.State != StateFailed || prev.LastError != err.Error() {
		s.log.Warn("relay reservation failed; retrying", zap.String("relay", a.String()), zap.Error(err))
	}
	s.set(Status{State: StateFailed, Relay: a.String(), LastError: err.Error()}, false)
}

// wait sleeps d, or until Kick or ctx.
func (s *Service) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.kick:
	case <-t.C:
	}
}

func (s *Service) set(st Status, notify bool) {
	s.mu.Lock()
	if st.State != s.status.State {
		st.Since = time.Now()
	} else {
		st.Since = s.status.Since
	}
	s.status = st
	s.mu.Unlock()
	if notify && s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}
