package peer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/backoff"
	"github.com/p2pchat/p2pchat/internal/pace"
	"github.com/p2pchat/p2pchat/internal/slots"
)

// SessionInfo describes one established session.
type SessionInfo struct {
	Peer       string
	RemoteAddr string
	LocalAddr  string
	Since      time.Time
	Dialed     bool // we dialled (after a simultaneous open both sides did)
	Version    uint16
	Path       Path
	RTT        time.Duration // the last measured round trip; 0 until the first Pong
}

// Manager owns the peer listener and every session and dialler.
type Manager struct {
	cfg     Config
	log     *zap.Logger
	ln      net.Listener
	tlsBase *tls.Config
	hs      *slots.Slots  // inbound handshakes in progress
	limits  sessionLimits // guarded by mu: the session bounds
	events  *eventQueue
	calls   *callPool // the receivers' Handler calls

	// ctx is Run's context; cancelling it stops everything. Set once by
	// Run before any goroutine that reads it starts.
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // accept loop, handshakes, sessions, diallers

	mu       sync.Mutex
	running  bool                // guarded by mu: Run has started
	closed   bool                // guarded by mu: no new goroutines may start
	sessions map[string]*session // guarded by mu: the one live session per peer
	dialers  map[string]*dialer  // guarded by mu: the one dialler per peer
	early    map[string]bool     // guarded by mu: Notify calls before Run
	// graceDown holds peers whose session the peer replaced by a duplicate
	// we have not finished setting up yet: their "down" is held back, so
	// presence does not flap. guarded by mu.
	graceDown map[string]*time.Timer
	reversals map[string]time.Time // guarded by mu: peers asked to dial us back, until when
	upgrades  UpgradeStats         // guarded by mu
	// Paced log lines about what anyone can cause: failed handshakes and
	// connections refused for want of a handshake slot.
	failedHandshakes, slotRefusals *pace.Pacer
}

// UpgradeStats counts the attempts to move relayed sessions onto direct
// connections (see upgrade.go), since the manager started.
type UpgradeStats struct {
	PunchAttempts int // simultaneous opens this side tried
	Punched       int // sessions that moved to a punched connection
	Reversed      int // sessions that moved to a connection one side dialled back
}

// Upgrades returns the upgrade counters.
func (m *Manager) Upgrades() UpgradeStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.upgrades
}

// countUpgrade records one attempt (path "") or one upgrade.
func (m *Manager) countUpgrade(path Path) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch path {
	case "":
		m.upgrades.PunchAttempts++
	case PathPunched:
		m.upgrades.Punched++
	case PathReversed:
		m.upgrades.Reversed++
	}
}

// NewManager checks cfg and binds the listener, so Addr is known before
// Run. Close releases it if Run is never called.
func NewManager(cfg Config) (*Manager, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	cert, err := cfg.Identity.TLSCertificate()
	if err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = listenTCP(cfg.ListenAddr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
		}
	}
	limits := newSessionLimits(cfg, fileLimit())
	if limits.total < cfg.MaxSessions {
		cfg.Log.Info("fewer peer sessions allowed than configured, to keep file descriptors free",
			zap.Int("max_sessions", limits.total), zap.Int("configured", cfg.MaxSessions), zap.Uint64("nofile", fileLimit()))
	}
	return &Manager{
		cfg: cfg, log: cfg.Log, ln: ln, limits: limits,
		tlsBase: newTLSBase(cert, cfg.Identity.Public),
		hs:      slots.New(maxHandshakes, maxHandshakesPerSource),

		failedHandshakes: pace.Every(logEvery),
		slotRefusals:     pace.Every(logEvery),
		events:           newEventQueue(cfg.Handler),
		calls:            newCallPool(),
		sessions:         make(map[string]*session),
		dialers:          make(map[string]*dialer),
		early:            make(map[string]bool),

		graceDown: make(map[string]*time.Timer),
		reversals: make(map[string]time.Time),
	}, nil
}

// Addr is the address the manager listens and dials from.
func (m *Manager) Addr() net.Addr { return m.ln.Addr() }

// Run accepts peers and runs sessions until ctx is cancelled or Close is
// called; it returns after every session and dialler has stopped and
// every PeerState report has been made. Cancellation is not an error.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running || m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.running = true
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	for peer := range m.early {
		m.startDialerLocked(peer, 0)
	}
	m.early = nil
	m.mu.Unlock()

	eventsDone := make(chan struct{})
	go func() { m.events.run(); close(eventsDone) }()
	acceptErr := make(chan error, 1)
	m.wg.Go(func() { acceptErr <- m.acceptLoop() })

	<-m.ctx.Done()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.ln.Close()
	m.wg.Wait()
	m.calls.wait() // sessions are gone, so no new call starts a worker
	m.mu.Lock()
	for peer, t := range m.graceDown {
		t.Stop()
		m.events.push(event{peer: peer, up: false})
	}
	clear(m.graceDown)
	m.mu.Unlock()
	m.events.close()
	<-eventsDone
	if err := <-acceptErr; err != nil {
		return err
	}
	return nil
}

// Close stops the manager: Run returns once everything has stopped. It is
// safe to call more than once, and before or without Run.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	if m.cancel != nil {
		m.cancel(ErrClosed)
	}
	m.mu.Unlock()
	if err := m.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close peer listener: %w", err)
	}
	return nil
}

// goLocked starts f as a goroutine Run waits for, unless the manager is
// stopping. m.mu must be held.
func (m *Manager) goLocked(f func()) bool {
	if m.closed || !m.running {
		return false
	}
	m.wg.Go(f)
	return true
}

func (m *Manager) acceptLoop() error {
	bo := backoff.New(5*time.Millisecond, time.Second)
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if m.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait, as
				// net/http does, rather than spin or give up.
				delay := bo.Next()
				m.log.Warn("accept peer connection; retrying", zap.Error(err), zap.Duration("in", delay))
				time.Sleep(delay)
				continue
			}
			m.cancel(err)
			return fmt.Errorf("accept peer connections: %w", err)
		}
		bo.Reset()
		m.accepted(conn, PathDirect)
	}
}

// Serve runs the handshake of an incoming connection that reached us some
// other way than the listener (a relay); the session it makes reports path.
// It returns at once.
func (m *Manager) Serve(conn net.Conn, path Path) {
	m.mu.Lock()
	ok := m.running && !m.closed
	m.mu.Unlock()
	if !ok {
		conn.Close()
		return
	}
	m.accepted(conn, path)
}

func (m *Manager) accepted(conn net.Conn, path Path) {
	var src netip.Addr
	if path == PathDirect {
		if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
			src = ap.Addr().Unmap()
		}
	}
	if bound, ok := m.hs.Take(src); !ok {
		conn.Close()
		if n, report := m.slotRefusals.Tick(time.Now()); report {
			m.log.Warn("peer handshake slots full; closing new connections at once",
				zap.String("limit", string(bound)), zap.Stringer("source", src), zap.Int("since_last_line", n),
				zap.Int("per_source", maxHandshakesPerSource), zap.Int("total", maxHandshakes))
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := m.goLocked(func() {
		defer m.hs.Release(src)
		m.setup(m.ctx, conn, "", nil, path)
	})
	if !ok {
		m.hs.Release(src)
		conn.Close()
	}
}

// AddConn runs the handshake on a connection made elsewhere (a hole punch
// or a relay) and, if it succeeds, keeps it as the session with the peer.
// peer is the contact it was made for, or "" if the other side started it.
// It returns once the session is up or refused.
func (m *Manager) AddConn(ctx context.Context, conn net.Conn, peer string, path Path) error {
	var key ed25519.PublicKey
	if peer != "" {
		var err error
		if key, _, err = m.cfg.Resolver.Resolve(ctx, peer); err != nil {
			conn.Close()
			return fmt.Errorf("resolve %q: %w", peer, err)
		}
	}
	return m.addConn(ctx, conn, peer, key, path)
}

// addConn is AddConn with the peer's key already known (an upgrade knows it
// from the relayed session, and must not wait for a tracker lookup between
// Sync and the dial).
func (m *Manager) addConn(ctx context.Context, conn net.Conn, peer string, key ed25519.PublicKey, path Path) error {
	m.mu.Lock()
	ok := m.running && !m.closed
	if ok {
		m.wg.Add(1)
	}
	m.mu.Unlock()
	if !ok {
		conn.Close()
		return ErrClosed
	}
	defer m.wg.Done()
	ctx, cancel := mergeCancel(ctx, m.ctx)
	defer cancel()
	return m.setup(ctx, conn, peer, key, path)
}

// mergeCancel returns a context cancelled when either a or b is.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// setup turns a connected socket into a session: handshake, authorise,
// register. peer and key are set when we dialled a known contact. Every
// failure is logged here, once, and the connection closed.
func (m *Manager) setup(ctx context.Context, conn net.Conn, peer string, key []byte, path Path) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.HandshakeTimeout)
	defer cancel()
	l, err := handshake(ctx, conn, handshakeParams{
		self: m.cfg.Identity, name: m.cfg.Name, tlsBase: m.tlsBase,
		expectKey: key, expectName: peer, dialed: peer != "", timeout: m.cfg.HandshakeTimeout,
	})
	var standing Standing
	if err == nil {
		peer = l.hello.Name
		if standing, err = m.cfg.Authorizer.Authorize(ctx, peer, l.peerKey); err != nil {
			err = fmt.Errorf("authorize %q: %w", peer, err)
			bye := errNotAuthorized.Error()
			var ref *RefusedError
			if errors.As(err, &ref) {
				bye = ref.Error()
			}
			l.w.WriteFrame(wireBye(bye))
			l.w.Flush()
		}
	}
	if err != nil {
		m.refused(conn, peer, err)
		conn.Close()
		return err
	}
	s := newSession(m, l, path)
	s.standing = standing
	if err := m.register(s); err != nil {
		l.w.WriteFrame(wireBye(err.Error()))
		l.w.Flush()
		conn.Close()
	}
	return nil
}

func (m *Manager) refused(conn net.Conn, peer string, err error) {
	fields := []zap.Field{zap.Stringer("remote", conn.RemoteAddr()), zap.Error(err)}
	if peer != "" {
		fields = append(fields, zap.String("peer", peer))
	}
	switch {
	case errors.Is(err, ErrKeyMismatch):
		m.log.Error("refused peer: key mismatch", fields...)
	default:
		// Anyone can make handshakes fail as fast as they can connect:
		// one line a minute, with the count, and the rest at debug level.
		if n, report := m.failedHandshakes.Tick(time.Now()); report {
			m.log.Info("peer handshake failed", append(fields, zap.Int("failures_since_last_line", n))...)
		} else {
			m.log.Debug("peer handshake failed", fields...)
		}
	}
	if rr, ok := m.cfg.Handler.(RefusalReporter); ok && peer != "" {
		rr.Refused(peer, err)
	}
}

// register makes s the peer's session and starts it, unless another
// session for the peer wins the duplicate rule, a session bound is
// reached, or the manager is stopping: then it returns the reason to send
// in the Bye and the caller drops s.
//
// Duplicate rule: a direct connection beats a relayed one (an upgrade);
// otherwise both ends derive the same connection ID from TLS, so both keep
// the connection with the larger ID and close the other. Either way the
// messages the closed session had not had acknowledged are sent again on
// the kept one, in order, and the receiver drops what it already stored.
func (m *Manager) register(s *session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errShutdown
	}
	s.path = m.acceptedPathLocked(s.peer, s.path)
	old := m.sessions[s.peer]
	if old != nil && (better(old.path, s.path) || old.path == s.path && bytes.Compare(s.link.id[:], old.link.id[:]) < 0) {
		// The old session may be a corpse the kernel has not noticed
		// (the peer restarted): a ping makes it fail fast if so.
		old.queue(wirePing())
		return errDuplicate
	}
	if old == nil {
		if err := m.limits.admitLocked(m.sessions, s, m.log); err != nil {
			return err
		}
	}
	if !m.goLocked(s.run) {
		return errShutdown
	}
	m.sessions[s.peer] = s
	if t := m.graceDown[s.peer]; t != nil {
		t.Stop()
		delete(m.graceDown, s.peer)
	}
	if old != nil {
		old.close(errReplaced, errDuplicate.Error())
	}
	m.events.push(event{peer: s.peer, up: true, addr: s.link.raw.RemoteAddr().String(), path: s.path})
	if d := m.dialers[s.peer]; d != nil {
		d.wake() // it looks, sees the session and leaves
	}
	return nil
}

// unregister removes s when it ends and, if the peer still has messages
// waiting, starts reconnecting.
func (m *Manager) unregister(s *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions[s.peer] != s {
		return // replaced by a duplicate; the peer is still up
	}
	delete(m.sessions, s.peer)
	m.limits.releasedLocked(m.sessions, m.log)
	down := event{peer: s.peer, up: false, addr: s.link.raw.RemoteAddr().String(), path: s.path}
	var bye *ByeError
	if errors.As(s.closeCause(), &bye) && bye.Reason == errDuplicate.Error() && m.graceDown[s.peer] == nil {
		var t *time.Timer
		t = time.AfterFunc(m.cfg.HandshakeTimeout, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.graceDown[down.peer] == t && !m.closed {
				delete(m.graceDown, down.peer)
				m.events.push(down)
			}
		})
		m.graceDown[s.peer] = t
	} else {
		m.events.push(down)
	}
	if !errors.Is(s.closeCause(), errIdle) {
		delay := m.cfg.BackoffMin
		if bye != nil {
			if _, refused := bye.Refusal(); refused {
				// The peer said why and that it is for a while (a quota, a
				// bound): asking again at once would only be refused again.
				delay = min(m.cfg.BackoffMax, refusedRetryDelay)
			}
		}
		m.startDialerLocked(s.peer, delay)
	}
}

// Notify says the outbox for peer has new messages: the session sends
// them, or one is dialled.
func (m *Manager) Notify(peer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.sessions[peer] != nil:
		m.sessions[peer].notify()
	case !m.running && !m.closed:
		m.early[peer] = true
	case m.dialers[peer] != nil:
		m.dialers[peer].wake()
	default:
		m.startDialerLocked(peer, 0)
	}
}

// DialAhead starts a session with peer now, while the first message for
// it is still being stored: the handshake overlaps the commit instead of
// following it. Nothing is sent before the message is committed and
// Notify is called (the session sends only what the outbox holds); if no
// message comes, the session closes when idle. A dial that fails is
// retried only while the outbox holds something for the peer, as after
// Notify.
func (m *Manager) DialAhead(peer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions[peer] != nil || !m.running || m.closed {
		return
	}
	if d := m.dialers[peer]; d != nil {
		d.ahead = true
		d.wake()
		return
	}
	d := &dialer{peer: peer, wakeCh: make(chan struct{}, 1), ahead: true}
	if m.goLocked(func() { m.dialLoop(d, 0) }) {
		m.dialers[peer] = d
	}
}

// Disconnect ends every session with key (the user blocked it), telling
// the peer only that it is not authorized, and reports how many ended.
func (m *Manager) Disconnect(key ed25519.PublicKey) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sessions {
		if bytes.Equal(s.link.peerKey, key) {
			s.close(errNotAuthorized, errNotAuthorized.Error())
			n++
		}
	}
	return n
}

// Sessions lists the established sessions, sorted by peer.
func (m *Manager) Sessions() []SessionInfo {
	m.mu.Lock()
	out := make([]SessionInfo, 0, len(m.sessions))
	for _, s := range m.sessions {
		out = append(out, SessionInfo{
			Peer: s.peer, Since: s.since, Dialed: s.link.dialed, Version: s.link.version,
			Path: s.path, RTT: time.Duration(s.rtt.Load()),
			RemoteAddr: s.link.raw.RemoteAddr().String(), LocalAddr: s.link.raw.LocalAddr().String(),
		})
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}
