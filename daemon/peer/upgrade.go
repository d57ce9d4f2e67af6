package peer

import (
	"context"
	"crypto/ed25519"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/wire"
	"github.com/p2pchat/p2pchat/internal/backoff"
)

// Upgrading a relayed session to a direct one, the way libp2p's DCUtR does
// it, over the relayed (end-to-end TLS) session itself:
//
//	caller (dialled the relay)            target (held the reservation)
//	Connect{DialMe, our addresses} ─────▶
//	                               ◀────── Connect{its direct addresses}
//	  RTT = the Connect round trip         with DialMe (the caller can be
//	  with DialMe: waits ReversalWait      dialled): dials it at once
//	                                       (connection reversal)
//	Sync ───────────────────────────────▶  dials the caller's addresses
//	  after RTT/2 dials the target's       (TCP simultaneous open from both
//	  addresses                            listening ports, SO_REUSEPORT)
//
// Whichever connection comes up first is handed to AddConn and, being
// better than relayed, replaces the relayed session (see register); the
// messages in flight are sent again on the new one and the receiver drops
// what it already has, so nothing is lost, repeated or reordered. The
// caller tries PunchAttempts times, each with a fresh RTT, and then again
// after a backoff for as long as the session stays relayed.

// Tuning of the upgrade.
const (
	PunchAttempts   = 3
	connectReplyMax = 5 * time.Second // longest wait for the target's Connect
)

// upgradeFrame hands a Connect or Sync from the receiver to the upgrader.
func (s *session) upgradeFrame(f wire.Frame) {
	select {
	case s.upgradeCh <- f:
	default: // an upgrader that is busy dialling misses nothing it needs
	}
}

// startUpgrader runs the upgrade of a relayed session, on both sides, for
// as long as the session lives; the manager waits for it.
func (s *session) startUpgrader() {
	m := s.m
	if s.path != PathRelayed || s.link.version < wire.Version2 || m.cfg.SelfAddrs == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.link.dialed {
		m.goLocked(s.upgradeAsCaller)
	} else {
		m.goLocked(s.upgradeAsTarget)
	}
}

// upgradeAsCaller drives the exchange (see the diagram above).
func (s *session) upgradeAsCaller() {
	cfg := &s.m.cfg
	bo := backoff.New(cfg.UpgradeBackoffMin, cfg.UpgradeBackoffMax)
	for s.ctx.Err() == nil {
		for attempt, waits := 1, 0; attempt <= PunchAttempts && s.ctx.Err() == nil; attempt++ {
			switch s.tryUpgrade(attempt) {
			case upgraded:
				return
			case notReady:
				// A side that has just started knows no address of its
				// own yet (its first announce is under way): not an
				// attempt.
				if waits++; waits <= maxNotReady && sleepCtx(s.ctx, notReadyWait) {
					attempt--
				}
			}
		}
		if !sleepCtx(s.ctx, bo.Next()) {
			return
		}
	}
}

// Outcomes of tryUpgrade.
type upgradeOutcome int

const (
	upgraded upgradeOutcome = iota // a direct session replaced the relayed one
	failed                         // a try that did not get through
	notReady                       // one side had no address to offer yet
)

// How long and how often the caller waits for addresses to try.
const (
	notReadyWait = 500 * time.Millisecond
	maxNotReady  = 20
)

// tryUpgrade is one Connect/Sync round.
func (s *session) tryUpgrade(attempt int) upgradeOutcome {
	m := s.m
	t0 := time.Now()
	dialMe := m.cfg.Dialable != nil && m.cfg.Dialable()
	if dialMe {
		// Before the Connect goes: the peer may dial back before its
		// answer arrives.
		m.expectReversal(s.peer, connectReplyMax+m.cfg.ReversalWait)
	}
	ours := m.selfAddrs()
	s.queue(wire.Connect{DialMe: dialMe, Addrs: ours})
	theirs, ok := s.awaitConnect(connectReplyMax)
	if !ok {
		return failed
	}
	if len(ours) == 0 || len(directOnly(theirs.Addrs)) == 0 {
		return notReady
	}
	rtt := time.Since(t0)
	if dialMe {
		if !sleepCtx(s.ctx, m.cfg.ReversalWait) || s.replaced() {
			return s.outcome()
		}
	}
	s.queue(wire.Sync{})
	if !sleepCtx(s.ctx, rtt/2) {
		return s.outcome()
	}
	err := m.dialDirect(s.ctx, s.peer, s.link.peerKey, theirs.Addrs, PathPunched)
	if err == nil {
		m.log.Info("relayed session upgraded", zap.String("peer", s.peer), zap.String("path", string(PathPunched)),
			zap.Int("attempt", attempt), zap.Duration("rtt", rtt))
		return upgraded
	}
	m.log.Debug("hole punch failed", zap.String("peer", s.peer), zap.Int("attempt", attempt), zap.Error(err))
	return s.outcome()
}

// outcome is upgraded if another session replaced this one meanwhile (a
// reversal, or the peer's own punch), else failed.
func (s *session) outcome() upgradeOutcome {
	if s.replaced() {
		return upgraded
	}
	return failed
}

// awaitConnect waits for the peer's Connect.
func (s *session) awaitConnect(limit time.Duration) (wire.Connect, bool) {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case f := <-s.upgradeCh:
			if c, ok := f.(wire.Connect); ok {
				return c, true
			}
		case <-t.C:
			return wire.Connect{}, false
		case <-s.ctx.Done():
			return wire.Connect{}, false
		}
	}
}

// upgradeAsTarget answers the caller: its Connect with ours at once (and,
// with DialMe, a reversal dial), its Sync with the simultaneous open. The
// dials run beside the loop, so an answer is never late (the caller's RTT
// would be wrong); a new Connect cancels the dial of the round before.
func (s *session) upgradeAsTarget() {
	m := s.m
	var theirs []string
	cancel := func() {}
	defer func() { cancel() }()
	dial := func(limit time.Duration, path Path) {
		cancel()
		var ctx context.Context
		ctx, cancel = context.WithTimeout(s.ctx, limit)
		addrs := theirs
		m.mu.Lock()
		defer m.mu.Unlock()
		m.goLocked(func() {
			if err := m.dialDirect(ctx, s.peer, s.link.peerKey, addrs, path); err != nil {
				m.log.Debug("direct connection failed", zap.String("peer", s.peer), zap.String("path", string(path)), zap.Error(err))
				return
			}
			m.log.Info("relayed session upgraded", zap.String("peer", s.peer), zap.String("path", string(path)))
		})
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case f := <-s.upgradeCh:
			switch f := f.(type) {
			case wire.Connect:
				cancel()
				theirs = f.Addrs
				s.queue(wire.Connect{Addrs: m.selfAddrs()})
				if f.DialMe {
					dial(m.cfg.ReversalWait, PathReversed)
				}
			case wire.Sync:
				dial(m.cfg.HandshakeTimeout, PathPunched)
			}
		}
	}
}

// replaced reports whether the session is no longer the peer's session.
func (s *session) replaced() bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.sessions[s.peer] != s
}

// dialDirect races the direct addresses in addrs (from the listening port
// for a punch) and runs the handshake on the first to connect, expecting
// key (known from the relayed session: no tracker lookup delays the dial
// that Sync timed), as a session on path.
func (m *Manager) dialDirect(ctx context.Context, peer string, key ed25519.PublicKey, addrs []string, path Path) error {
	if path == PathPunched {
		m.countUpgrade("")
	}
	conn, _, err := m.connect(ctx, key, directOnly(addrs), path == PathPunched)
	if err != nil {
		return err
	}
	// The handshake must outlive the relayed session: the other side may
	// register the new connection first and close the relayed one, which
	// ends ctx (derived from it) while our handshake is still running.
	if err := m.addConn(context.Background(), conn, peer, key, path); err != nil {
		return err
	}
	m.countUpgrade(path)
	return nil
}

// selfAddrs are the direct addresses we offer in a Connect.
func (m *Manager) selfAddrs() []string {
	addrs := ipv6First(directOnly(m.cfg.SelfAddrs())) // kept if the list is cut
	return addrs[:min(len(addrs), wire.MaxAddrs)]
}

// expectReversal notes that peer may dial us back within d, so that the
// session this makes is shown as reversed rather than a plain direct one.
func (m *Manager) expectReversal(peer string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reversals[peer] = time.Now().Add(d)
}

// acceptedPath is the path of an accepted direct session with peer: a
// reversal we asked for, or plain direct. m.mu is held.
func (m *Manager) acceptedPathLocked(peer string, path Path) Path {
	if until, ok := m.reversals[peer]; ok && path == PathDirect {
		delete(m.reversals, peer)
		if time.Now().Before(until) {
			return PathReversed
		}
	}
	return path
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
