package portmap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// pmpPort is where NAT-PMP and PCP servers listen (RFC 6886, RFC 6887).
const pmpPort = 5351

// udpCall sends req from self to dst and returns the first answer that
// accept takes, retransmitting after 250 ms, 500 ms, ... until ctx is done.
// An ICMP port-unreachable ends it at once: nothing serves that port.
func udpCall(ctx context.Context, self netip.Addr, dst netip.AddrPort, req []byte, accept func([]byte) bool) ([]byte, error) {
	var d net.Dialer
	if self.IsValid() {
		d.LocalAddr = &net.UDPAddr{IP: self.AsSlice()}
	}
	c, err := d.DialContext(ctx, "udp4", dst.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 1100) // PCP's largest message
	wait := 250 * time.Millisecond
	for {
		if _, err := c.Write(req); err != nil {
			return nil, ctxErr(ctx, err)
		}
		c.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := c.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				break // retransmit
			}
			if err != nil {
				return nil, ctxErr(ctx, err)
			}
			if accept(buf[:n]) {
				return buf[:n], nil
			}
		}
		wait = min(wait*2, 4*time.Second)
	}
}

// ctxErr prefers the context's error, which says why a deadline fired.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// epoch follows a PCP or NAT-PMP server's epoch (seconds since it started
// or lost its mappings). Per RFC 6886 section 3.6, an epoch that advanced
// less than 7/8 of the local time elapsed, minus 2 s of slack, means the
// server restarted.
type epoch struct {
	have bool
	last uint32
	at   time.Time
}

func (e *epoch) observe(sec uint32, now time.Time) error {
	restarted := false
	if e.have {
		elapsed := now.Sub(e.at).Seconds()
		restarted = float64(sec) < float64(e.last)+elapsed*7/8-2
	}
	e.have, e.last, e.at = true, sec, now
	if restarted {
		return errRestarted
	}
	return nil
}
