package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// A dial-back tells a daemon whether it can be dialled directly. A signed
// register or update that carries ?check=dialback makes the tracker open a
// TCP connection to the address it observed the request coming from (the
// same address observed_addr reports, so X-Forwarded-For counts only from a
// trusted proxy) and close it again at once, without sending a byte. The
// answer's "dialback" field says "reachable", "unreachable" or "skipped"
// (the feature is off, a limit was hit, or the observed port is unknown).
// The address is never taken from the request's body or from any header
// the tracker does not already trust for observed_addr.
//
// The attempt runs after the record is stored, so it never delays the
// write, and only a request the tracker accepted (signed by the right key,
// not a replay) makes it dial; it delays the answer by at most
// DialbackTimeout.

// The "dialback" values in a register or update answer.
const (
	DialbackReachable   = "reachable"
	DialbackUnreachable = "unreachable"
	DialbackSkipped     = "skipped"
)

// CheckParam is the query parameter that asks for checks, a comma-separated
// list; CheckDialback asks for a dial-back. Unknown checks are ignored, so
// a client may ask for checks that only newer trackers do.
const (
	CheckParam    = "check"
	CheckDialback = "dialback"
)

// Dial-back outcomes, the label values of tracker_dialbacks_total. All but
// the first two answer "skipped".
const (
	outcomeReachable   = "reachable"
	outcomeUnreachable = "unreachable"
	outcomeCancelled   = "cancelled"    // the client went away
	outcomeDisabled    = "disabled"     // DisableDialback
	outcomeNoAddress   = "no_address"   // observed address unusable (a proxy gave no port)
	outcomeSourceLimit = "rate_limited" // this source asked too often
	outcomeGlobalLimit = "global_limited"
	outcomeBusy        = "busy" // DialbackMaxInFlight attempts already running
)

// wantsDialback reports whether the request's query asks for a dial-back.
func wantsDialback(u *url.URL) bool {
	q, _ := url.ParseQuery(u.RawQuery) // keeps the well-formed pairs
	for _, v := range q[CheckParam] {
		for _, c := range strings.Split(v, ",") {
			if strings.TrimSpace(c) == CheckDialback {
				return true
			}
		}
	}
	return false
}

// dialbacker runs the dial-backs of one server within its limits.
type dialbacker struct {
	cfg       Config
	log       *zap.Logger
	metrics   *metrics
	perSource *rateLimiter
	global    *rate.Limiter
	slots     chan struct{} // one token per attempt in flight
	// dial connects to addr and closes the connection; tests replace it.
	dial func(ctx context.Context, addr netip.AddrPort) error
}

func newDialbacker(cfg Config, log *zap.Logger, m *metrics) *dialbacker {
	return &dialbacker{
		cfg:       cfg,
		log:       log,
		metrics:   m,
		perSource: newRateLimiter(cfg.DialbackRate, cfg.DialbackBurst, cfg.RateLimitSources, cfg.Now),
		global:    rate.NewLimiter(rate.Limit(cfg.DialbackGlobalRate), cfg.DialbackGlobalBurst),
		slots:     make(chan struct{}, cfg.DialbackMaxInFlight),
		dial:      connectAndClose,
	}
}

// connectAndClose completes a TCP handshake with addr and closes the
// connection without writing: to the daemon's peer listener it is a
// connection that ends before its preamble.
func connectAndClose(ctx context.Context, addr netip.AddrPort) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	return c.Close()
}

// run dials addr, the address r came from (clientAddr), unless the switch,
// the address or a limit skips it, and returns the answer. Call it only
// once the request has been accepted (signature checked, record stored).
func (d *dialbacker) run(r *http.Request, addr netip.AddrPort) string {
	if outcome := d.admit(addr); outcome != "" {
		d.metrics.dialbacks.WithLabelValues(outcome).Inc()
		return DialbackSkipped
	}
	defer func() { <-d.slots }()
	d.metrics.dialbacksInFlight.Inc()
	defer d.metrics.dialbacksInFlight.Dec()
	ctx, cancel := context.WithTimeout(r.Context(), d.cfg.DialbackTimeout)
	defer cancel()
	start := time.Now()
	err := d.dial(ctx, addr)
	outcome, answer := outcomeReachable, DialbackReachable
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		outcome, answer = outcomeCancelled, DialbackSkipped
	default:
		outcome, answer = outcomeUnreachable, DialbackUnreachable
	}
	d.metrics.dialbacks.WithLabelValues(outcome).Inc()
	d.log.Debug("dial-back", zap.Stringer("addr", addr), zap.String("outcome", outcome),
		zap.Duration("took", time.Since(start)), zap.Error(err))
	return answer
}

// admit checks the switch, the address and the limits, and takes an
// in-flight slot. It returns "" when the dial-back may run, else the
// outcome that skips it.
func (d *dialbacker) admit(addr netip.AddrPort) string {
	switch {
	case d.cfg.DisableDialback:
		return outcomeDisabled
	case !dialable(addr):
		return outcomeNoAddress
	}
	if _, ok := d.perSource.allow(addr.Addr()); !ok {
		return outcomeSourceLimit
	}
	if !d.global.AllowN(d.cfg.Now(), 1) {
		return outcomeGlobalLimit
	}
	select {
	case d.slots <- struct{}{}:
		return ""
	default:
		return outcomeBusy
	}
}

// dialable: a unicast address with a known port. The address is the one
// the request came from; this only filters what a trusted proxy may pass
// on (a bare IP has port 0).
func dialable(a netip.AddrPort) bool {
	ip := a.Addr()
	return a.IsValid() && a.Port() != 0 && !ip.IsUnspecified() && !ip.IsMulticast()
}
