package peer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-reuseport"
	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/backoff"
	"github.com/p2pchat/p2pchat/relay"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// A dialer keeps trying to reach one peer, with exponential backoff and
// jitter, for as long as the outbox holds messages for it and no session
// exists. There is at most one per peer; it lives in Manager.dialers until
// it decides, under Manager.mu, that it has nothing left to do.
type dialer struct {
	peer   string
	wakeCh chan struct{} // cap 1: try now (Notify) or look again (a session came up)
	retry  bool          // guarded by Manager.mu: a session ended; look again after BackoffMin
	// ahead is set by DialAhead: the next look dials without asking the
	// outbox, where the message is still being stored. guarded by
	// Manager.mu.
	ahead bool
}

func (d *dialer) wake() {
	select {
	case d.wakeCh <- struct{}{}:
	default:
	}
}

// startDialerLocked starts a dialler for peer whose first attempt waits
// delay. If one runs already, it is told to look again after delay.
// m.mu must be held.
func (m *Manager) startDialerLocked(peer string, delay time.Duration) {
	if d := m.dialers[peer]; d != nil {
		if delay == 0 {
			d.wake()
		} else {
			d.retry = true
		}
		return
	}
	d := &dialer{peer: peer, wakeCh: make(chan struct{}, 1)}
	if m.goLocked(func() { m.dialLoop(d, delay) }) {
		m.dialers[peer] = d
	}
}

func (m *Manager) dialLoop(d *dialer, delay time.Duration) {
	ctx := m.ctx
	bo := backoff.New(m.cfg.BackoffMin, m.cfg.BackoffMax)
	for {
		if delay > 0 && !m.sleep(ctx, d, delay) {
			m.dialerExit(d, true)
			return
		}
		if !m.wantsDial(ctx, d) {
			var stop bool
			if stop, delay = m.dialerExit(d, false); stop {
				return
			}
			continue
		}
		err := m.dialOnce(ctx, d.peer)
		switch {
		case ctx.Err() != nil:
			m.dialerExit(d, true)
			return
		case err == nil:
			// Normally the session is up and the dialler leaves. If it
			// already ended, the peer hangs up on us: keep backing off.
			if stop, _ := m.dialerExit(d, false); stop {
				return
			}
			delay = bo.Next()
		default:
			delay = bo.Next()
			m.log.Info("cannot reach peer; will retry", zap.String("peer", d.peer),
				zap.Error(err), zap.Duration("retry_in", delay))
		}
	}
}

// sleep waits for t, a wake-up or ctx; false means ctx ended.
func (m *Manager) sleep(ctx context.Context, d *dialer, t time.Duration) bool {
	timer := time.NewTimer(t)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-d.wakeCh:
	case <-ctx.Done():
		return false
	}
	return true
}

// dialerExit removes d, unless (and !force) something happened since it
// last looked: a Notify (look again now) or a session that ended (look
// again after BackoffMin). Deciding under m.mu means no Notify is lost
// between "nothing to send" and exiting.
func (m *Manager) dialerExit(d *dialer, force bool) (stop bool, delay time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !force {
		select {
		case <-d.wakeCh:
			return false, 0
		default:
		}
		if d.retry {
			d.retry = false
			return false, m.cfg.BackoffMin
		}
	}
	if m.dialers[d.peer] == d {
		delete(m.dialers, d.peer)
	}
	return true, 0
}

// wantsDial reports whether a dial is still useful: no session yet, and
// messages waiting or about to be (DialAhead).
func (m *Manager) wantsDial(ctx context.Context, d *dialer) bool {
	m.mu.Lock()
	up := m.sessions[d.peer] != nil
	ahead := d.ahead
	d.ahead = false
	m.mu.Unlock()
	if up {
		return false
	}
	if ahead {
		return true
	}
	out, err := m.cfg.Handler.Pending(ctx, d.peer, 0, 1)
	if err != nil {
		m.log.Warn("read outbox", zap.String("peer", d.peer), zap.Error(err))
		return false
	}
	return len(out) > 0
}

// dialOnce resolves peer, connects through the best of its addresses that
// answers (see connect) and runs the handshake.
func (m *Manager) dialOnce(ctx context.Context, peer string) error {
	rctx, cancel := context.WithTimeout(ctx, m.cfg.HandshakeTimeout)
	key, addrs, err := m.cfg.Resolver.Resolve(rctx, peer)
	cancel()
	if err != nil {
		return fmt.Errorf("resolve %q: %w", peer, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("resolve %q: no addresses", peer)
	}
	conn, path, err := m.connect(ctx, key, addrs, false)
	if err != nil {
		return fmt.Errorf("connect to %q: %w", peer, err)
	}
	return m.setup(ctx, conn, peer, key, path)
}

// attempt is one candidate's outcome.
type attempt struct {
	conn net.Conn
	path Path
	err  error
}

// connect races the candidates, happy-eyeballs style: IPv6 direct
// addresses at once, IPv4 ones after IPv4Delay (or once every IPv6 attempt
// has failed; see familyTurns), the relays (relay://) after RelayDelay, or
// as soon as every direct attempt has failed, so a peer reachable only
// through a relay is not kept waiting. The first connection wins and the
// others are closed; every attempt has ended when connect returns.
func (m *Manager) connect(ctx context.Context, key ed25519.PublicKey, addrs []string, punch bool) (net.Conn, Path, error) {
	var direct []string
	var relays []relay.Addr
	for _, a := range addrs {
		if !record.IsRelayAddr(a) {
			direct = append(direct, a)
		} else if ra, err := relay.ParseAddr(a); err == nil {
			relays = append(relays, ra)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.HandshakeTimeout)
	defer cancel()
	results := make(chan attempt, len(direct)+len(relays))
	relayGo := make(chan struct{})
	var wg sync.WaitGroup
	turns := newFamilyTurns(direct)
	for _, a := range direct {
		wg.Go(func() {
			if !turns.wait(ctx, a) {
				results <- attempt{path: PathDirect, err: ctx.Err()}
				return
			}
			c, err := m.dial(ctx, a, punch)
			turns.done(a, err)
			results <- attempt{c, PathDirect, err}
		})
	}
	for _, ra := range relays {
		wg.Go(func() {
			select {
			case <-relayGo:
			case <-ctx.Done():
				results <- attempt{path: PathRelayed, err: ctx.Err()}
				return
			}
			c, err := relay.Connect(ctx, ra, key, nil)
			if err != nil {
				err = fmt.Errorf("relay %s: %w", ra.HostPort, err)
			}
			results <- attempt{c, PathRelayed, err}
		})
	}
	win, errs := m.firstConn(results, relayGo, len(direct), len(relays), cancel)
	wg.Wait()
	if win.conn == nil {
		if len(errs) == 0 {
			return nil, "", errNoAddress
		}
		return nil, "", errors.Join(errs...)
	}
	return win.conn, win.path, nil
}

// firstConn collects the attempts of connect: it opens relayGo when the
// relays' turn comes, keeps the first connection, cancels the rest and
// closes any that connected anyway.
func (m *Manager) firstConn(results <-chan attempt, relayGo chan struct{}, nDirect, nRelays int, cancel func()) (attempt, []error) {
	delay := m.cfg.RelayDelay
	if nDirect == 0 {
		delay = 0
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	startRelays := func() {
		select {
		case <-relayGo:
		default:
			close(relayGo)
		}
	}
	var win attempt
	var errs []error
	for left, directLeft := nDirect+nRelays, nDirect; left > 0; {
		select {
		case <-timer.C:
			startRelays()
		case a := <-results:
			left--
			if a.path == PathDirect {
				directLeft--
			}
			switch {
			case a.err != nil:
				errs = append(errs, a.err)
				if directLeft == 0 {
					startRelays()
				}
			case win.conn == nil:
				win = a
				cancel()
				startRelays() // waiting relays see the cancellation and give up
			default:
				a.conn.Close()
			}
		}
	}
	return win, errs
}

// dial connects to addr: for a hole punch from the listening port (the
// port the peer knows our NAT's mapping of), otherwise from an ephemeral
// one. Ordinary dials must not use the listening port: each leaves a
// conntrack entry on our router for that port and the peer's, which
// remembers the SYN's sequence number for minutes, and a later punch on
// the same addresses, with a new sequence number, would be dropped as
// invalid.
func (m *Manager) dial(ctx context.Context, addr string, punch bool) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.HandshakeTimeout)
	defer cancel()
	if m.cfg.Dial != nil {
		return m.cfg.Dial(ctx, m.ln.Addr(), addr)
	}
	var d net.Dialer
	if punch && m.cfg.Listener == nil {
		d = net.Dialer{Control: reuseport.Control, LocalAddr: m.ln.Addr()}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return conn, nil
}

func isTemporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}
