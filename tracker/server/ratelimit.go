package server

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter is a token bucket per source. A source is an IPv4 address or
// an IPv6 /64, because one IPv6 host usually owns a whole /64. The map is
// bounded: when full, idle sources (whose bucket has refilled, so forgetting
// them changes nothing) are swept, and failing that an arbitrary one is
// evicted.
type rateLimiter struct {
	limit   rate.Limit
	burst   int
	max     int
	refill  time.Duration // time for an empty bucket to refill
	now     func() time.Time
	mu      sync.Mutex // guards sources and lastSweep
	sources map[netip.Prefix]*source
	// lastSweep bounds the O(n) sweep to once per refill period when every
	// source is busy.
	lastSweep time.Time
}

type source struct {
	lim  *rate.Limiter
	seen time.Time
}

func newRateLimiter(perSec float64, burst, max int, now func() time.Time) *rateLimiter {
	return &rateLimiter{
		limit:   rate.Limit(perSec),
		burst:   burst,
		max:     max,
		refill:  time.Duration(float64(burst) / perSec * float64(time.Second)),
		now:     now,
		sources: make(map[netip.Prefix]*source),
	}
}

// allow takes a token for addr's source; when none is left it returns how
// long until one is.
func (l *rateLimiter) allow(addr netip.Addr) (time.Duration, bool) {
	key := sourceKey(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	src, ok := l.sources[key]
	if !ok {
		l.makeRoomLocked(now)
		src = &source{lim: rate.NewLimiter(l.limit, l.burst)}
		l.sources[key] = src
	}
	src.seen = now
	if src.lim.AllowN(now, 1) {
		return 0, true // the common case, without ReserveN's allocation
	}
	res := src.lim.ReserveN(now, 1)
	d := res.DelayFrom(now)
	res.CancelAt(now)
	return d, false
}

func (l *rateLimiter) makeRoomLocked(now time.Time) {
	if len(l.sources) < l.max {
		return
	}
	if now.Sub(l.lastSweep) >= l.refill {
		l.lastSweep = now
		for k, s := range l.sources {
			if now.Sub(s.seen) >= l.refill {
				delete(l.sources, k)
			}
		}
	}
	for k := range l.sources {
		if len(l.sources) < l.max {
			break
		}
		delete(l.sources, k)
	}
}

func sourceKey(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}
