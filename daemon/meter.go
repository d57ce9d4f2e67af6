package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/wire"
)

// meters apply the per-peer message rate and daily byte quota of
// [limits]: a peer over its rate is slowed down (Deliver waits, so its
// session stops reading and TCP pushes back), a peer over its bytes for
// the UTC day is refused with a reason its user sees until the day ends.
//
// The counts live in memory: a restart gives every peer a fresh day. The
// map holds at most maxMeters peers; beyond, entries idle for a minute are
// forgotten (a stranger can only come back through the stranger lookup
// limit and the session bounds).
type meters struct {
	lim config.Limits
	log *zap.Logger

	mu sync.Mutex
	m  map[string]*meter // guarded by mu
}

// maxMeters bounds the meters map.
const maxMeters = 4096

type meter struct {
	standing peer.Standing
	rate     *rate.Limiter // nil: no rate limit
	burst    int
	day      int64 // UTC day (days since the epoch) bytes counts
	bytes    int64
	refused  bool // over quota on day, already logged
	used     time.Time
}

func newMeters(lim config.Limits, log *zap.Logger) *meters {
	return &meters{lim: lim, log: log, m: map[string]*meter{}}
}

func utcDay(t time.Time) int64 { return t.Unix() / 86400 }

// get returns name's meter for its standing, made fresh when the standing
// changed (an accepted stranger gets the contact limits at once).
func (ms *meters) getLocked(name string, st peer.Standing, now time.Time) *meter {
	m := ms.m[name]
	if m != nil && m.standing == st {
		m.used = now
		return m
	}
	if m == nil && len(ms.m) >= maxMeters {
		for n, o := range ms.m {
			if now.Sub(o.used) > time.Minute {
				delete(ms.m, n)
			}
		}
	}
	r, burst := ms.lim.ContactRate, ms.lim.ContactBurst
	if st == peer.Stranger {
		r, burst = ms.lim.StrangerRate, ms.lim.StrangerBurst
	}
	nm := &meter{standing: st, used: now, day: utcDay(now), burst: max(burst, 1)}
	if m != nil && m.day == nm.day {
		nm.bytes = m.bytes // the day's bytes follow the peer across standings
	}
	if r > 0 {
		nm.rate = rate.NewLimiter(rate.Limit(r), nm.burst)
	}
	ms.m[name] = nm
	return nm
}

func (ms *meters) dailyLimit(st peer.Standing) int64 {
	if st == peer.Stranger {
		return ms.lim.StrangerDailyBytes
	}
	return ms.lim.ContactDailyBytes
}

// overQuota returns a *peer.RefusedError if name has used its bytes for
// today, else nil.
func (ms *meters) overQuota(name string, st peer.Standing) error {
	now := time.Now()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m := ms.getLocked(name, st, now)
	return ms.checkLocked(name, m, now)
}

func (ms *meters) checkLocked(name string, m *meter, now time.Time) error {
	if d := utcDay(now); d != m.day {
		m.day, m.bytes, m.refused = d, 0, false
	}
	limit := ms.dailyLimit(m.standing)
	if limit == 0 || m.bytes < limit {
		return nil
	}
	if !m.refused {
		m.refused = true
		ms.log.Warn("peer used up its bytes for today; refusing its messages until midnight UTC",
			zap.String("peer", name), zap.Int64("bytes", m.bytes), zap.Int64("limit", limit))
	}
	midnight := time.Unix((m.day+1)*86400, 0).UTC()
	return &peer.RefusedError{Reason: fmt.Sprintf("the daily limit of %s from you is used up; messages wait until %s",
		sizeString(limit), midnight.Format("2006-01-02 15:04 UTC"))}
}

// admit meters a batch from name: it refuses one over the day's quota,
// waits as the rate demands, and counts the batch's bytes.
func (ms *meters) admit(ctx context.Context, name string, st peer.Standing, msgs []wire.Msg) error {
	now := time.Now()
	ms.mu.Lock()
	m := ms.getLocked(name, st, now)
	if err := ms.checkLocked(name, m, now); err != nil {
		ms.mu.Unlock()
		return err
	}
	for i := range msgs {
		m.bytes += int64(len(msgs[i].Body))
	}
	lim, burst := m.rate, m.burst
	ms.mu.Unlock()
	if lim == nil {
		return nil
	}
	for n := len(msgs); n > 0; n -= burst {
		if err := lim.WaitN(ctx, min(n, burst)); err != nil {
			return fmt.Errorf("wait for %s's message rate: %w", name, err)
		}
	}
	return nil
}

// refund takes back the bytes admit counted for a batch that was not
// stored (a full disk, a failed write): the peer sends it again, and a
// batch that failed many times must not use up the peer's day.
func (ms *meters) refund(name string, msgs []wire.Msg) {
	var n int64
	for i := range msgs {
		n += int64(len(msgs[i].Body))
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if m := ms.m[name]; m != nil {
		m.bytes = max(m.bytes-n, 0)
	}
}

// sizeString is n bytes for people: 1 MiB, 512 KiB, 100 B.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
