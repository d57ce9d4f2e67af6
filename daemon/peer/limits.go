package peer

import (
	"bytes"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Errors a session over a bound is refused with; the Bye carries them, so
// the peer's user can read why.
var (
	errTooManySessions         = &RefusedError{Reason: "too many sessions; try again later"}
	errTooManyStrangerSessions = &RefusedError{Reason: "too many sessions with peers who are not contacts; try again later"}
	errTooManySessionsPerKey   = &RefusedError{Reason: "too many sessions with this key under other names"}
)

// sessionLimits bounds the established sessions (see Config.MaxSessions).
// It logs once when a bound starts refusing and once when it stops, not
// per refused session.
type sessionLimits struct {
	total, strangers, perKey int
	refusing                 error // the bound last refused at; nil when none is
}

func newSessionLimits(cfg Config, nofile uint64) sessionLimits {
	l := sessionLimits{total: cfg.MaxSessions, strangers: cfg.MaxStrangerSessions, perKey: cfg.MaxSessionsPerKey}
	// Each session and each handshake holds one descriptor; a session
	// being replaced holds two for a moment, which the headroom absorbs.
	if room := int(min(nofile, 1<<20)) - fdHeadroom - maxHandshakes; room < l.total {
		l.total = max(room, 1)
	}
	// Strangers never get more than half: contacts keep room to connect.
	l.strangers = min(l.strangers, max(l.total/2, 1))
	return l
}

// fileLimit is the soft RLIMIT_NOFILE (Go raises it to the hard limit at
// start), or a large number if it cannot be read.
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1 << 20
	}
	return rl.Cur
}

// strangerIdleEvict is how long a stranger's session must have been idle
// before a new stranger may take its place.
const strangerIdleEvict = time.Second

// admitLocked says whether s may join sessions (which has no session for
// s.peer), or which bound refuses it. When the strangers' sessions are
// full, the one idle longest (for strangerIdleEvict at least) is closed
// to make room: idle strangers cannot keep new ones out.
func (l *sessionLimits) admitLocked(sessions map[string]*session, s *session, log *zap.Logger) error {
	var strangers, sameKey int
	var idlest *session
	for _, o := range sessions {
		if o.standing == Stranger {
			strangers++
			if idlest == nil || o.idleFor() > idlest.idleFor() {
				idlest = o
			}
		}
		if bytes.Equal(o.link.peerKey, s.link.peerKey) {
			sameKey++
		}
	}
	if s.standing == Stranger && strangers >= l.strangers && idlest != nil && idlest.idleFor() >= strangerIdleEvict &&
		len(sessions) <= l.total && !bytes.Equal(idlest.link.peerKey, s.link.peerKey) {
		idlest.close(errTooManyStrangerSessions, errTooManyStrangerSessions.Error())
		strangers--
		// It leaves sessions when its goroutines end; until then it
		// still counts against the total.
	}
	var err error
	switch {
	case len(sessions) >= l.total:
		err = errTooManySessions
	case s.standing == Stranger && strangers >= l.strangers:
		err = errTooManyStrangerSessions
	case sameKey >= l.perKey:
		err = errTooManySessionsPerKey
	}
	if err != nil && l.refusing == nil {
		log.Warn("peer session limit reached; refusing new sessions until some end", zap.Error(err),
			zap.Int("sessions", len(sessions)), zap.Int("strangers", strangers),
			zap.Int("max_sessions", l.total), zap.Int("max_stranger_sessions", l.strangers), zap.Int("max_sessions_per_key", l.perKey))
	}
	if err != nil {
		l.refusing = err
	}
	return err
}

// releasedLocked notes that a session ended.
func (l *sessionLimits) releasedLocked(sessions map[string]*session, log *zap.Logger) {
	if l.refusing != nil {
		l.refusing = nil
		log.Info("peer sessions below their limits again", zap.Int("sessions", len(sessions)))
	}
}
