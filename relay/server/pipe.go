package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// copyBufSize is the size of the pooled buffers the copies use: one TLS
// record's plaintext at most, so one read fills at most one write.
const copyBufSize = 16 << 10

// bufPool lends a copy a buffer only while bytes are moving: an idle
// session holds none (see session.copy).
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// aLongTimeAgo is a read deadline in the past: a read returns what is
// already received and does not wait.
var aLongTimeAgo = time.Unix(1, 0)

// session is a joined pair. Two goroutines run it, the caller's and the
// target's, each copying the bytes it reads from one TLS connection to the
// other; the one that finishes first waits for the other, the last one
// ends the session.
//
// Idleness is judged from the bytes the copies count, on a timer, so the
// copy needs no deadlines and no hook per chunk.
type session struct {
	s              *Server
	j              *join
	caller, target net.Conn        // TLS connections: read and write the relayed bytes here
	lim            *rate.Limiter   // per-session cap; nil when none
	ctx            context.Context // limiter waits; cancelled by abort and shutdown
	cancel         context.CancelFunc
	from           string
	started        time.Time
	every          time.Duration // idle check interval

	read     atomic.Uint64 // bytes read, both directions
	written  atomic.Uint64 // bytes delivered, both directions, added as each direction ends
	finished atomic.Int32
	done     chan struct{} // closed when the session has ended

	mu         sync.Mutex // guards the fields below
	timer      *time.Timer
	ended      bool
	reason     string
	seen       uint64 // bytes read at the last check
	counted    uint64 // bytes added to the metric so far
	lastChange time.Time
}

func (s *Server) newSession(j *join, caller, target net.Conn) *session {
	ss := &session{s: s, j: j, caller: caller, target: target, from: sourceOf(caller).String(),
		started: time.Now(), done: make(chan struct{}), every: max(s.cfg.IdleTimeout/4, 10*time.Millisecond)}
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

// copy copies src to dst until src ends. It waits for each TLS record
// with a one-byte read, so that an idle session holds no buffer; then it
// borrows one and fills it with what has already arrived, without
// waiting, and writes that.
func (ss *session) copy(dst, src net.Conn) (int64, error) {
	var total int64
	first := make([]byte, 1)
	for {
		n, err := src.Read(first)
		if n > 0 {
			bp := bufPool.Get().(*[]byte)
			buf := *bp
			buf[0] = first[0]
			m, derr := drain(src, buf[1:])
			n += m
			if err == nil {
				err = derr
			}
			ss.read.Add(uint64(n))
			werr := ss.wait(n)
			if werr == nil {
				var w int
				w, werr = dst.Write(buf[:n])
				total += int64(w)
			}
			bufPool.Put(bp)
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

// drain reads into buf what src has received already, without waiting
// for more. A read that would wait fails at once on the past deadline; a
// timeout does not harm a TLS connection (crypto/tls keeps a partial
// record for the next read).
func drain(src net.Conn, buf []byte) (int, error) {
	src.SetReadDeadline(aLongTimeAgo)
	defer src.SetReadDeadline(time.Time{})
	n := 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				err = nil
			}
			return n, err
		}
	}
	return n, nil
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
	closeNow(ss.caller)
	closeNow(ss.target)
}

// closeNow closes the TCP connection under c: a TLS close_notify could
// wait for a peer that does not read.
func closeNow(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	c.Close()
}

// check runs on the idle timer: it counts bytes and ends a session that
// has moved none for IdleTimeout.
func (ss *session) check() {
	n := ss.read.Load()
	ss.mu.Lock()
	if ss.ended {
		ss.mu.Unlock()
		return
	}
	now := time.Now()
	if n != ss.seen {
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
