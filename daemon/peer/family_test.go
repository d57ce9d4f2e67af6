package peer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// A dual-stack peer is reached over IPv6 though its IPv4 address works
// too: the IPv4 attempt waits IPv4Delay.
func TestConnectPrefersIPv6(t *testing.T) {
	checkLeaks(t)
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		ln.Close()
	}
	dir := newDirectory()
	alice := newNode(t, dir, "alice")
	bob := newNode(t, dir, "bob", func(c *Config) { c.ListenAddr = "[::]:0" })
	port := bob.m.Addr().(*net.TCPAddr).Port
	v4 := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String()
	v6 := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port)).String()
	for range 3 { // not a lucky race
		c, path, err := alice.m.connect(context.Background(), bob.id.Public, []string{v4, v6}, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := c.RemoteAddr().String(); got != v6 || path != PathDirect {
			t.Fatalf("connected to %s (%s), want %s (direct)", got, path, v6)
		}
	}
}

// IPv4 gets its turn after IPv4Delay when IPv6 hangs, and at once when
// every IPv6 attempt has failed.
func TestConnectIPv4Turn(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	var v4At time.Duration
	var start time.Time
	v6Fails := false
	dial := func(ctx context.Context, _ net.Addr, addr string) (net.Conn, error) {
		if isIPv6(addr) {
			mu.Lock()
			fail := v6Fails
			mu.Unlock()
			if fail {
				return nil, errors.New("no route")
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		mu.Lock()
		v4At = time.Since(start)
		mu.Unlock()
		a, b := net.Pipe()
		b.Close()
		return a, nil
	}
	dir := newDirectory()
	alice := newNode(t, dir, "alice", func(c *Config) { c.Dial = dial })
	addrs := []string{"192.0.2.1:7171", "[2001:db8::1]:7171", "[2001:db8::2]:7171"}
	for _, fail := range []bool{false, true} {
		mu.Lock()
		v6Fails, start = fail, time.Now()
		mu.Unlock()
		c, _, err := alice.m.connect(context.Background(), alice.id.Public, addrs, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		mu.Lock()
		at := v4At
		mu.Unlock()
		switch {
		case !fail && (at < IPv4Delay || at > IPv4Delay+time.Second):
			t.Errorf("IPv6 hanging: IPv4 dialled after %v, want about %v", at, IPv4Delay)
		case fail && at >= IPv4Delay:
			t.Errorf("IPv6 failed at once: IPv4 dialled after %v, want before %v", at, IPv4Delay)
		}
	}
}

func TestIPv6First(t *testing.T) {
	in := []string{"192.168.1.2:7171", "[2001:db8:1::2]:7171", "11.0.0.3:7171", "[::ffff:1.2.3.4]:1", "[fd00::1]:7171"}
	want := []string{"[2001:db8:1::2]:7171", "[fd00::1]:7171", "192.168.1.2:7171", "11.0.0.3:7171", "[::ffff:1.2.3.4]:1"}
	if got := ipv6First(in); !slices.Equal(got, want) {
		t.Fatalf("ipv6First = %v, want %v", got, want)
	}
}

// The IPv6 wildcard accepts both families; the IPv4 one IPv4 alone.
func TestListenFamilies(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		ln.Close()
	}
	for _, tc := range []struct {
		listen string
		v6     bool
	}{{"[::]:0", true}, {"0.0.0.0:0", false}} {
		ln, err := listenTCP(tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		for _, ip := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
			c, err := net.Dial("tcp", netip.AddrPortFrom(ip, port).String())
			if want := ip.Is4() || tc.v6; (err == nil) != want {
				t.Errorf("listening on %s, a dial to %v: %v; want it to connect: %v", tc.listen, ip, err, want)
			}
			if err != nil {
				continue
			}
			c.Close()
			if a, err := ln.Accept(); err == nil {
				a.Close()
			}
		}
		ln.Close()
	}
}
