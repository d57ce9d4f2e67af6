package natlab

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// A LAN host reaches a public host over IPv6 with its own address (routed,
// no NAT66), and the addresses work at once (no duplicate address
// detection holds them back).
func TestIPv6Routed(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	server := lab.AddPublicHost("server")
	home := lab.AddRouter("home", RouterOptions{NAT: Symmetric})
	other := lab.AddRouter("other", RouterOptions{})
	alice, bob := home.AddHost("alice"), other.AddHost("bob")
	if !home.LAN6().Contains(alice.Addr6()) || !alice.Addr6().Is6() || alice.Addr6() == bob.Addr6() {
		t.Fatalf("alice has %v, bob %v; home's LAN is %v", alice.Addr6(), bob.Addr6(), home.LAN6())
	}
	ln := listen(t, server, "tcp6", ":7000")
	to := netip.AddrPortFrom(server.Addr6(), 7000).String()
	for _, h := range []*Host{alice, bob} {
		local, seen := dialAndSee(t, h, ln, to)
		if seen != local || seen.Addr() != h.Addr6() {
			t.Errorf("%s dialled from %v; the server saw %v, want the same (no NAT66)", h.Name(), local, seen)
		}
	}
	// IPv4 is masqueraded as before.
	ln4 := listen(t, server, "tcp4", ":7001")
	if _, seen := dialAndSee(t, alice, ln4, netip.AddrPortFrom(server.Addr(), 7001).String()); seen.Addr() != home.WAN() {
		t.Errorf("over IPv4 the server saw %v, want the router's WAN %v", seen, home.WAN())
	}
}

// Unsolicited inbound IPv6 is dropped, or refused with RejectInbound, by
// the routers' stateful firewalls, though the LAN addresses are public;
// a reply to what the LAN host sent gets in.
func TestIPv6UnsolicitedInbound(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	outsider := lab.AddPublicHost("outsider")
	dropping := lab.AddRouter("drop", RouterOptions{})
	rejecting := lab.AddRouter("reject", RouterOptions{RejectInbound: true})
	inside := map[*Router]*Host{}
	for _, r := range []*Router{dropping, rejecting} {
		inside[r] = r.AddHost("h-" + r.Name())
		listen(t, inside[r], "tcp6", ":7000")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := outsider.Dial(ctx, "tcp6", netip.AddrPortFrom(inside[dropping].Addr6(), 7000).String())
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("dropping router: unsolicited dial: %v, want a timeout", err)
	}
	_, err = outsider.Dial(context.Background(), "tcp6", netip.AddrPortFrom(inside[rejecting].Addr6(), 7000).String())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("rejecting router: unsolicited dial: %v, want connection refused", err)
	}

	ln := listen(t, outsider, "tcp6", ":7001")
	if _, seen := dialAndSee(t, inside[dropping], ln, netip.AddrPortFrom(outsider.Addr6(), 7001).String()); seen.Addr() != inside[dropping].Addr6() {
		t.Errorf("outbound through the firewall: the outsider saw %v", seen)
	}
}

// Two hosts behind two stateful IPv6 firewalls connect by a TCP
// simultaneous open from fixed ports: each one's SYN opens its own
// firewall for the other's.
func TestIPv6SimultaneousOpen(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	alice := lab.AddRouter("home-a", RouterOptions{}).AddHost("alice")
	bob := lab.AddRouter("home-b", RouterOptions{}).AddHost("bob")
	a := netip.AddrPortFrom(alice.Addr6(), 7000)
	b := netip.AddrPortFrom(bob.Addr6(), 7000)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		c   net.Conn
		err error
	}
	results := make(chan result, 2)
	for _, side := range []struct {
		h        *Host
		from, to netip.AddrPort
	}{{alice, a, b}, {bob, b, a}} {
		go func() {
			var c net.Conn
			err := side.h.Do(func() error {
				d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(side.from), Control: reusePort}
				var err error
				c, err = d.DialContext(ctx, "tcp6", side.to.String())
				return err
			})
			results <- result{c, err}
		}()
	}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Errorf("simultaneous open: %v", r.err)
			continue
		}
		defer r.c.Close()
		local, remote := r.c.LocalAddr().(*net.TCPAddr).AddrPort(), r.c.RemoteAddr().(*net.TCPAddr).AddrPort()
		if !(local == a && remote == b) && !(local == b && remote == a) {
			t.Errorf("connection %v -> %v, want between %v and %v", local, remote, a, b)
		}
	}
}

// reusePort sets SO_REUSEADDR and SO_REUSEPORT, as chatd's dialler does.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}
