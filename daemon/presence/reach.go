package presence

import (
	"context"
	"net"
	"net/http/httptrace"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/p2pchat/p2pchat/tracker/client"
)

// Reachability is whether peers can dial chatd directly, as the tracker's
// dial-back last found: it connected to the address it observed us at.
type Reachability uint8

const (
	// Unknown: not checked yet, or the tracker did not answer (it does not
	// do dial-backs, it skipped one, or the announce did not leave from
	// the listening port so the check would be about another port).
	Unknown Reachability = iota
	// Reachable: the tracker connected to the observed address.
	Reachable
	// Unreachable: the connection was refused or timed out; peers need a
	// relay, a port mapping or a punched hole.
	Unreachable
)

func (r Reachability) String() string {
	switch r {
	case Reachable:
		return "reachable"
	case Unreachable:
		return "unreachable"
	}
	return "unknown"
}

// MarshalText makes Reachability a JSON string.
func (r Reachability) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// DefaultDialbackInterval is how long a dial-back answer stands before an
// announce asks again without another reason.
const DefaultDialbackInterval = 5 * time.Minute

// reach decides when an announce asks the tracker for a dial-back. It asks
// on the first announce, on the first after the observed address changed
// (or Kick), and otherwise on an announce DialbackInterval or more after
// the last answer. Until it gets an answer it asks on every announce; the
// announces themselves are paced by the record's lifetime and by address
// changes, and the tracker rate-limits dial-backs, so this never floods.
// Only Run's goroutine uses it.
type reach struct {
	interval time.Duration
	checked  netip.AddrPort // the observed address of the last answer
	at       time.Time      // when it was answered; zero: never, or asked to recheck
}

func (r *reach) due(observed netip.AddrPort, now time.Time) bool {
	return r.at.IsZero() || observed != r.checked || now.Sub(r.at) >= r.interval
}

// recheck makes the next announce ask.
func (r *reach) recheck() { r.at = time.Time{} }

// answer takes the tracker's answer about ann.Observed and returns what it
// says (Unknown: nothing learnt).
func (r *reach) answer(ann client.Announce, now time.Time) Reachability {
	var got Reachability
	switch ann.Dialback {
	case client.DialbackReachable:
		got = Reachable
	case client.DialbackUnreachable:
		got = Unreachable
	default:
		return Unknown
	}
	r.checked, r.at = ann.Observed, now
	return got
}

// fromPort returns ctx traced so that *ok says whether the request's
// connection left from port: only then is a dial-back about the port peers
// dial. (HTTPClient falls back to an ephemeral port when the listening
// port cannot be used.)
func fromPort(ctx context.Context, port uint16, ok *atomic.Bool) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			a, isTCP := info.Conn.LocalAddr().(*net.TCPAddr)
			ok.Store(isTCP && a.AddrPort().Port() == port)
		},
	})
}

// setReachability records r (unless Unknown) and reports whether it changed.
func (p *Presence) setReachability(r Reachability) bool {
	if r == Unknown {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := p.status.Reachable != r
	p.status.Reachable, p.status.ReachableAt = r, p.cfg.Now()
	return changed
}
