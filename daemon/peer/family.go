package peer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-reuseport"
)

// listenTCP listens on addr with SO_REUSEPORT, in the family its host
// names: an IPv4 literal, 0.0.0.0 included, listens on IPv4 alone (Go's
// "tcp" would make 0.0.0.0 dual-stack, and chatd would publish IPv6
// addresses its user did not ask for); the IPv6 wildcard [::], or no host,
// is dual-stack (Go clears IPV6_V6ONLY). On a machine without IPv6 (booted
// with ipv6.disable=1) [::] falls back to 0.0.0.0, so that the default
// configuration works there too.
func listenTCP(addr string) (net.Listener, error) {
	ap, perr := netip.ParseAddrPort(addr)
	network := "tcp"
	if perr == nil && ap.Addr().Is4() {
		network = "tcp4"
	}
	ln, err := reuseport.Listen(network, addr)
	if errors.Is(err, syscall.EAFNOSUPPORT) && perr == nil && ap.Addr() == netip.IPv6Unspecified() {
		return reuseport.Listen("tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port()).String())
	}
	return ln, err
}

// IPv4Delay is how long the IPv4 direct attempts of a race wait when the
// peer has IPv6 direct addresses too (RFC 8305's connection attempt
// delay). IPv6 needs no NAT, so a working IPv6 path is the better one and
// wins the race; a broken one costs IPv4 no more than this.
const IPv4Delay = 50 * time.Millisecond

// familyTurns orders the direct attempts of one race by address family:
// IPv6 ones go at once, IPv4 ones after IPv4Delay, or as soon as every
// IPv6 attempt has failed. Its methods are safe for concurrent use.
type familyTurns struct {
	start  time.Time
	v6Left atomic.Int32  // IPv6 attempts not yet failed
	v6Out  chan struct{} // closed when every IPv6 attempt has failed
	once   sync.Once
}

func newFamilyTurns(direct []string) *familyTurns {
	t := &familyTurns{start: time.Now(), v6Out: make(chan struct{})}
	for _, a := range direct {
		if isIPv6(a) {
			t.v6Left.Add(1)
		}
	}
	if t.v6Left.Load() == 0 {
		close(t.v6Out)
	}
	return t
}

// wait holds an attempt on addr until its turn; false means ctx ended
// first.
func (t *familyTurns) wait(ctx context.Context, addr string) bool {
	if isIPv6(addr) {
		return true
	}
	timer := time.NewTimer(IPv4Delay - time.Since(t.start))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.v6Out:
	case <-ctx.Done():
		return false
	}
	return true
}

// done notes how the attempt on addr ended.
func (t *familyTurns) done(addr string, err error) {
	if err != nil && isIPv6(addr) && t.v6Left.Add(-1) == 0 {
		t.once.Do(func() { close(t.v6Out) })
	}
}

// isIPv6 reports whether addr is host:port with an IPv6 literal (not an
// IPv4-mapped one).
func isIPv6(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Addr().Is6() && !ap.Addr().Is4In6()
}

// ipv6First returns addrs with the IPv6 ones first, each family in its
// own order, so a list cut to a limit keeps them.
func ipv6First(addrs []string) []string {
	out := slices.Clone(addrs)
	slices.SortStableFunc(out, func(a, b string) int {
		switch x, y := isIPv6(a), isIPv6(b); {
		case x && !y:
			return -1
		case y && !x:
			return 1
		}
		return 0
	})
	return out
}
