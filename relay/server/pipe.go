package server

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"

	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// copyBufSize is each direction's buffer when a bandwidth limit applies
// (without one, the kernel splices and no user-space buffer exists).
const copyBufSize = 8 << 10

// session is a joined pair. Two goroutines run it, the caller's and the
// target's, each copying the bytes it reads to the other side; the one
// that finishes first waits for the other, the last one ends the session.
//
// Idleness is judged from the kernel's byte counters (TCP_INFO
// bytes_received) on a timer, so the spliced path needs no deadlines and
// no user-space hook per chunk.
type session struct {
	s              *Server
	j              *join
	caller, target net.Conn
	from           string
	spliced        bool
	lim            *rate.Limiter   // per-session cap; nil when none
	ctx            context.Context // limiter waits; cancelled by abort and shutdown
	cancel         context.CancelFunc
	started        time.Time
	every          time.Duration // idle check interval

	read     atomic.Uint64 // bytes read, when not spliced
	written  atomic.Uint64 // bytes delivered, both directions, added as each direction ends
	finished atomic.Int32
	done     chan struct{} // closed when the session has ended

	mu         sync.Mutex // guards the fields below
	timer      *time.Timer
	ended      bool
	reason     string
	base       uint64 // bytes received before the join
	seen       uint64 // bytes received since the join, at the last check
	counted    uint64 // bytes added to the metric so far
	lastChange time.Time
}

func (s *Server) newSession(j *join, caller, target net.Conn) *session {
	ss := &session{s: s, j: j, caller: caller, target: target, from: sourceOf(caller).String(),
		started: time.Now(), done: make(chan struct{}), every: max(s.cfg.IdleTimeout/4, 10*time.Millisecond)}
	_, ok1 := caller.(*net.TCPConn)
	_, ok2 := target.(*net.TCPConn)
	ss.spliced = ok1 && ok2 && s.cfg.SessionRate == 0 && s.global == nil
	if s.cfg.SessionRate > 0 {
		ss.lim = rate.NewLimiter(rate.Limit(s.cfg.SessionRate), copyBufSize)
	}
	ss.ctx, ss.cancel = context.WithCancel(s.base)
	return ss
}

// greet tells both sides they are joined and starts the idle timer.
func (ss *session) greet() bool {
	d := time.Now().Add(ss.s.cfg.HandshakeTimeout)
	for _, c := range []net.Conn{ss.target, ss.caller} {
		c.SetDeadline(d)
		if wire.Write(c, wire.OK, nil) != nil {
			ss.cancel()
			return false
		}
	}
	ss.target.SetDeadline(time.Time{})
	ss.caller.SetDeadline(time.Time{})
	ss.s.m.active.Inc()
	ss.s.m.total.Inc()
	ss.mu.Lock()
	ss.base, _ = ss.received()
	ss.lastChange = time.Now()
	ss.timer = time.AfterFunc(ss.every, ss.check)
	ss.mu.Unlock()
	ss.s.log.Debug("session up", targetField(ss.j.target), zap.String("from", ss.from))
	return true
}

// pipe copies src to dst until src ends, then passes the end on.
func (ss *session) pipe(dst, src net.Conn) {
	n, err := ss.copy(dst, src)
	ss.written.Add(uint64(n))
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite() //nolint:errcheck // a failed half-close shows up on the other direction
		} else {
			ss.abort(EndClosed)
		}
	} else {
		ss.abort(EndError)
	}
	if ss.finished.Add(1) == 2 {
		ss.end()
		close(ss.done)
		return
	}
	select {
	case <-ss.done:
	case <-ss.s.base.Done():
		ss.abort(EndShutdown)
		<-ss.done
	}
}

func (ss *session) copy(dst, src net.Conn) (int64, error) {
	if ss.spliced {
		return io.Copy(dst, src) // splice(2) between the two sockets
	}
	buf := make([]byte, copyBufSize)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			ss.read.Add(uint64(n))
			if werr := ss.wait(n); werr != nil {
				return total, werr
			}
			m, werr := dst.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (ss *session) wait(n int) error {
	if ss.lim != nil {
		if err := ss.lim.WaitN(ss.ctx, n); err != nil {
			return err
		}
	}
	if ss.s.global != nil {
		return ss.s.global.WaitN(ss.ctx, n)
	}
	return nil
}

// abort ends the session now: both connections are closed, which ends
// both copies. The first reason given is the one reported.
func (ss *session) abort(reason string) {
	ss.mu.Lock()
	if ss.reason == "" {
		ss.reason = reason
	}
	ss.mu.Unlock()
	ss.cancel()
	ss.caller.Close()
	ss.target.Close()
}

// received is the number of bytes the relay has received on both
// connections (the kernel's count when spliced).
func (ss *session) received() (uint64, bool) {
	if !ss.spliced {
		return ss.read.Load(), true
	}
	a, ok1 := tcpBytesReceived(ss.caller)
	b, ok2 := tcpBytesReceived(ss.target)
	return a + b, ok1 && ok2
}

// check runs on the idle timer: it counts bytes and ends a session that
// has moved none for IdleTimeout.
func (ss *session) check() {
	n, ok := ss.received()
	ss.mu.Lock()
	if ss.ended {
		ss.mu.Unlock()
		return
	}
	now := time.Now()
	if n -= ss.base; ok && n != ss.seen {
		ss.seen, ss.lastChange = n, now
		if n > ss.counted {
			ss.s.m.bytes.Add(float64(n - ss.counted))
			ss.counted = n
		}
	}
	idle := now.Sub(ss.lastChange) >= ss.s.cfg.IdleTimeout
	if !idle {
		ss.timer.Reset(ss.every)
	}
	ss.mu.Unlock()
	if idle {
		ss.abort(EndIdle)
	}
}

// end accounts for the session once both directions have stopped.
func (ss *session) end() {
	ss.cancel()
	ss.mu.Lock()
	ss.ended = true
	if ss.timer != nil {
		ss.timer.Stop()
	}
	reason := ss.reason
	if w := ss.written.Load(); w > ss.counted {
		ss.s.m.bytes.Add(float64(w - ss.counted))
	}
	ss.mu.Unlock()
	switch {
	case reason == "":
		reason = EndClosed
	case reason == EndError && ss.s.base.Err() != nil:
		reason = EndShutdown
	}
	ss.s.m.active.Dec()
	ss.s.m.ends.WithLabelValues(reason).Inc()
	ss.s.log.Info("session down", targetField(ss.j.target), zap.String("from", ss.from), zap.String("reason", reason),
		zap.Duration("lasted", time.Since(ss.started).Round(time.Millisecond)), zap.Uint64("bytes", ss.written.Load()))
}

// tcpBytesReceived reads tcpi_bytes_received (Linux 4.1+) without
// disturbing a read or splice in progress.
func tcpBytesReceived(c net.Conn) (uint64, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n uint64
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		var info *unix.TCPInfo
		if info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
			n = info.Bytes_received
		}
	}); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
