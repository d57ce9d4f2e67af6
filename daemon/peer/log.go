package peer

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/daemon/wire"
)

func errField(err error) zap.Field { return zap.Error(err) }

func (s *session) logPeer() zap.Field { return zap.String("peer", s.peer) }

func wireBye(reason string) wire.Frame { return wire.Bye{Reason: reason} }

func wirePing() wire.Frame { return wire.Ping{} }

// logEnd writes the one line that says why a session ended. Causes that
// are the peer's fault (bad frames, stalls) are warnings; ordinary ends
// (hang-up, idle, shutdown, duplicates) are info.
func (m *Manager) logEnd(s *session, recvErr error) {
	cause := s.closeCause()
	if cause == nil {
		cause = recvErr
	}
	fields := []zap.Field{
		s.logPeer(), zap.Stringer("remote", s.link.raw.RemoteAddr()),
		zap.Duration("lasted", time.Since(s.since).Round(time.Millisecond)),
	}
	var bye *ByeError
	var ne net.Error
	switch {
	case errors.Is(cause, errIdle), errors.Is(cause, errReplaced), errors.Is(cause, errShutdown),
		errors.Is(cause, context.Canceled), errors.Is(cause, ErrClosed):
		m.log.Info("peer session closed", append(fields, zap.String("reason", cause.Error()))...)
	case errors.As(cause, &bye):
		m.log.Info("peer closed session", append(fields, zap.String("reason", bye.Reason))...)
		if _, refused := bye.Refusal(); refused {
			if rr, ok := m.cfg.Handler.(RefusalReporter); ok {
				rr.Refused(s.peer, cause)
			}
		}
	case errors.Is(cause, io.EOF), errors.Is(cause, net.ErrClosed):
		m.log.Info("peer disconnected", fields...)
	case errors.As(cause, &ne) && ne.Timeout():
		m.log.Warn("peer session timed out: peer silent or not reading", append(fields,
			zap.Duration("after", deadMultiplier*m.cfg.KeepAlive), zap.Error(cause))...)
	default:
		m.log.Warn("peer session failed", append(fields, zap.Error(cause))...)
	}
}
