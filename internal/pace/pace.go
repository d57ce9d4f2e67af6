// Package pace is the one way p2pchat keeps a repeated log line from
// flooding the log: a Pacer counts occurrences of one event and says when
// to report them, the first at once and then at most once per interval,
// with how many there were since the last report.
//
//	var failed = pace.Every(time.Minute)
//	if n, ok := failed.Tick(time.Now()); ok {
//		log.Info("handshake failed", zap.Int("since_last_line", n))
//	}
//
// A Pacer is safe for concurrent use.
package pace

import (
	"sync"
	"time"
)

// Pacer counts one kind of event. Make one with Every.
type Pacer struct {
	every time.Duration

	mu     sync.Mutex
	n      int       // events since the last report
	last   time.Time // when the last report was made
	primed bool      // a report has been made
}

// Every returns a Pacer that reports at most once per interval.
func Every(interval time.Duration) *Pacer { return &Pacer{every: interval} }

// Tick counts one event at now and reports whether to log it, with the
// number of events since the previous report, this one included.
func (p *Pacer) Tick(now time.Time) (n int, report bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if p.primed && now.Sub(p.last) < p.every {
		return 0, false
	}
	n, p.n, p.last, p.primed = p.n, 0, now, true
	return n, true
}
