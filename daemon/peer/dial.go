package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/libp2p/go-reuseport"
	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/backoff"
)

// A dialer keeps trying to reach one peer, with exponential backoff and
// jitter, for as long as the outbox holds messages for it and no session
// exists. There is at most one per peer; it lives in Manager.dialers until
// it decides, under Manager.mu, that it has nothing left to do.
type dialer struct {
	peer   string
	wakeCh chan struct{} // cap 1: try now (Notify) or look again (a session came up)
	retry  bool          // guarded by Manager.mu: a session ended; look again after BackoffMin
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
		if !m.wantsDial(ctx, d.peer) {
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

// wantsDial reports whether a dial is still useful: no session yet and
// messages waiting.
func (m *Manager) wantsDial(ctx context.Context, peer string) bool {
	m.mu.Lock()
	up := m.sessions[peer] != nil
	m.mu.Unlock()
	if up {
		return false
	}
	out, err := m.cfg.Handler.Pending(ctx, peer, 0, 1)
	if err != nil {
		m.log.Warn("read outbox", zap.String("peer", peer), zap.Error(err))
		return false
	}
	return len(out) > 0
}

// dialOnce resolves peer and tries its addresses in order until one gives
// a session.
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
	var errs []error
	for _, addr := range addrs {
		conn, err := m.dial(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := m.setup(ctx, conn, peer, key); err != nil {
			errs = append(errs, err)
			continue
		}
		return nil
	}
	return errors.Join(errs...)
}

func (m *Manager) dial(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.HandshakeTimeout)
	defer cancel()
	if m.cfg.Dial != nil {
		return m.cfg.Dial(ctx, m.ln.Addr(), addr)
	}
	d := net.Dialer{Control: reuseport.Control, LocalAddr: m.ln.Addr()}
	if m.cfg.Listener != nil {
		d = net.Dialer{}
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
