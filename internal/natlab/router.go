package natlab

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
)

// NATMode is how a router picks the public port of an outgoing connection.
type NATMode int

const (
	// Cone keeps the LAN host's source port when no other connection
	// uses it (plain MASQUERADE), so the mapping does not depend on the
	// destination: hole punching from a known port works.
	Cone NATMode = iota
	// Symmetric picks a random public port for every connection
	// (MASQUERADE --random-fully), so each destination sees another port.
	Symmetric
)

func (m NATMode) String() string {
	switch m {
	case Cone:
		return "cone"
	case Symmetric:
		return "symmetric"
	}
	return fmt.Sprintf("NATMode(%d)", int(m))
}

// RouterOptions say how a router behaves.
type RouterOptions struct {
	NAT NATMode
	// RejectInbound answers unsolicited inbound TCP with a reset (the
	// dialler sees "connection refused"); by default it is dropped (the
	// dialler times out).
	RejectInbound bool
	// UPnP and PMP run miniupnpd with UPnP IGD and with NAT-PMP and PCP
	// enabled. With neither, the router runs no gateway.
	UPnP, PMP bool
}

// Router is a home router: NAT and a firewall between its LAN and the
// internet, and optionally a port-mapping gateway. Its methods are safe for
// concurrent use.
type Router struct {
	lab  *Lab
	name string
	ns   string
	opts RouterOptions
	lan  netip.Prefix // the LAN, with the router's own address
	lan6 netip.Prefix // the IPv6 LAN, a /64 with the router's own address
	wan6 netip.Addr   // the router's IPv6 address on the internet
	gw   *gateway     // nil without UPnP and PMP

	gwMu sync.Mutex // serializes starting and stopping the gateway; guards gw's process state

	mu    sync.Mutex // guards the fields below
	wan   netip.Addr
	hosts int // hosts added so far
}

// AddRouter adds a router with its WAN interface on the internet and an
// empty LAN, 192.168.N.0/24 and 2001:db8:N::/64 for the Nth router.
func (l *Lab) AddRouter(name string, o RouterOptions) *Router {
	l.t.Helper()
	if o.UPnP || o.PMP {
		if _, err := exec.LookPath("miniupnpd"); err != nil {
			l.skipOrFail("natlab: miniupnpd not installed (Debian package miniupnpd-iptables)")
		}
	}
	l.mu.Lock()
	n := len(l.routers) + 1
	l.mu.Unlock()
	if n > 254 {
		l.t.Fatal("natlab: too many routers")
	}
	ns := l.addNamespace(name)
	lan6 := lans6.Addr().As16()
	lan6[5], lan6[15] = byte(n), 1
	r := &Router{
		lab:  l,
		name: name,
		ns:   ns,
		opts: o,
		lan:  netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(n), 1}), 24),
		lan6: netip.PrefixFrom(netip.AddrFrom16(lan6), 64),
	}
	r.wan, r.wan6 = l.publicPair()
	l.mu.Lock()
	l.routers = append(l.routers, r)
	l.mu.Unlock()
	// Before any interface exists, so that they inherit the defaults.
	l.must(r.sysctls("all", "default"))
	l.must(l.attach(ns, "wan0", r.wan, r.wan6))
	l.must(ipAll(
		[]string{"-n", ns, "link", "add", "lan0", "type", "bridge", "mcast_snooping", "0"},
		[]string{"-n", ns, "addr", "add", r.lan.String(), "dev", "lan0"},
		[]string{"-n", ns, "addr", "add", r.lan6.String(), "dev", "lan0", "nodad"},
		[]string{"-n", ns, "link", "set", "lan0", "up"},
	))
	l.must(r.sysctls("wan0", "lan0"))
	l.must(inNS(ns, []byte(r.rules()), "iptables-legacy-restore", "-w"))
	l.must(inNS(ns, []byte(r.rules6()), "ip6tables-legacy-restore", "-w"))
	l.must(l.addRoute6(ns, r.lan6.Masked(), r.wan6))
	if o.UPnP || o.PMP {
		r.gw = newGateway(r, n)
		l.must(r.StartGateway())
	}
	return r
}

// sysctls turns forwarding on and reverse-path filtering off (the lab's
// routes are symmetric; this way a host's setting cannot leak in) for the
// named interface configurations.
func (r *Router) sysctls(ifaces ...string) error {
	if err := writeSysctl(r.ns, "net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if err := writeSysctl(r.ns, "net/ipv6/conf/all/forwarding", "1"); err != nil {
		return err
	}
	for _, iface := range ifaces {
		if err := writeSysctl(r.ns, "net/ipv4/conf/"+iface+"/rp_filter", "0"); err != nil {
			return err
		}
	}
	return nil
}

// rules is the router's iptables-legacy-restore input: NAT behind wan0, a
// firewall that lets in only replies and what miniupnpd opened, and the
// chains miniupnpd fills (the ones its iptables_init.sh makes).
func (r *Router) rules() string {
	masq := "-A POSTROUTING -o wan0 -j MASQUERADE"
	if r.opts.NAT == Symmetric {
		masq += " --random-fully"
	}
	var reject []string
	if r.opts.RejectInbound {
		reject = []string{
			"-A INPUT -i wan0 -p tcp -j REJECT --reject-with tcp-reset",
			"-A FORWARD -i wan0 -p tcp -j REJECT --reject-with tcp-reset",
		}
	}
	lines := []string{
		"*nat",
		":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
		":MINIUPNPD - [0:0]", ":MINIUPNPD-POSTROUTING - [0:0]",
		"-A PREROUTING -i wan0 -j MINIUPNPD",
		// Before the masquerade: miniupnpd keeps a mapped port's
		// outgoing traffic on the mapped public port.
		"-A POSTROUTING -o wan0 -j MINIUPNPD-POSTROUTING",
		masq,
		"COMMIT",
		"*mangle",
		":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
		":MINIUPNPD - [0:0]",
		"-A PREROUTING -i wan0 -j MINIUPNPD",
		"COMMIT",
		"*filter",
		":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
		":MINIUPNPD - [0:0]",
		"-A INPUT -i lo -j ACCEPT",
		"-A INPUT -i lan0 -j ACCEPT",
		"-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		// Bridged LAN traffic passes FORWARD when br_netfilter is on.
		"-A FORWARD -i lan0 -o lan0 -j ACCEPT",
		"-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-A FORWARD -i wan0 ! -o wan0 -j MINIUPNPD",
		"-A FORWARD -i lan0 -o wan0 -j ACCEPT",
	}
	lines = append(lines, reject...)
	lines = append(lines, "COMMIT", "")
	return strings.Join(lines, "\n")
}

// rules6 is the router's ip6tables-legacy-restore input: no NAT (the LAN's
// addresses are public), and a stateful firewall that lets out whatever the
// LAN sends and lets in only replies to it, with RejectInbound answering
// new inbound TCP with a reset. ICMPv6 to the router itself is accepted:
// neighbour discovery on wan0 needs it.
func (r *Router) rules6() string {
	lines := []string{
		"*filter",
		":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
		"-A INPUT -i lo -j ACCEPT",
		"-A INPUT -i lan0 -j ACCEPT",
		"-A INPUT -p ipv6-icmp -j ACCEPT",
		"-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-A FORWARD -i lan0 -o lan0 -j ACCEPT",
		"-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-A FORWARD -i lan0 -o wan0 -j ACCEPT",
	}
	if r.opts.RejectInbound {
		lines = append(lines,
			"-A INPUT -i wan0 -p tcp -j REJECT --reject-with tcp-reset",
			"-A FORWARD -i wan0 -p tcp -j REJECT --reject-with tcp-reset",
		)
	}
	lines = append(lines, "COMMIT", "")
	return strings.Join(lines, "\n")
}

// AddHost adds a host to the router's LAN, with the next free addresses
// (IPv4 and IPv6) and default routes through the router.
func (r *Router) AddHost(name string) *Host {
	l := r.lab
	l.t.Helper()
	r.mu.Lock()
	r.hosts++
	k := r.hosts
	r.mu.Unlock()
	if k > 253 {
		l.t.Fatal("natlab: too many hosts on one LAN")
	}
	ns := l.addNamespace(name)
	b := r.lan.Addr().As4()
	b[3] = byte(k + 1)
	addr := netip.AddrFrom4(b)
	b6 := r.lan6.Addr().As16()
	b6[14], b6[15] = byte((k+1)>>8), byte(k+1)
	addr6 := netip.AddrFrom16(b6)
	port := fmt.Sprintf("h%d", k)
	l.must(ipAll(
		[]string{"-n", r.ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
		[]string{"-n", r.ns, "link", "set", port, "master", "lan0", "up"},
		[]string{"-n", ns, "addr", "add", netip.PrefixFrom(addr, r.lan.Bits()).String(), "dev", "eth0"},
		[]string{"-n", ns, "addr", "add", netip.PrefixFrom(addr6, r.lan6.Bits()).String(), "dev", "eth0", "nodad"},
		[]string{"-n", ns, "link", "set", "eth0", "up"},
		[]string{"-n", ns, "route", "add", "default", "via", r.lan.Addr().String()},
		[]string{"-n", ns, "-6", "route", "add", "default", "via", r.lan6.Addr().String()},
	))
	return &Host{lab: l, name: name, ns: ns, addr: addr, addr6: addr6, router: r}
}

// Name is the name the router was added with.
func (r *Router) Name() string { return r.name }

// Namespace is the name of the router's network namespace.
func (r *Router) Namespace() string { return r.ns }

// WAN is the router's public address.
func (r *Router) WAN() netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wan
}

// WAN6 is the router's IPv6 address on the internet. SetWANAddr does not
// change it.
func (r *Router) WAN6() netip.Addr { return r.wan6 }

// LAN6 is the router's IPv6 LAN prefix, a /64 routed to it (no NAT66).
func (r *Router) LAN6() netip.Prefix { return r.lan6.Masked() }

// LANAddr is the router's address on its LAN: its hosts' gateway, where
// miniupnpd listens.
func (r *Router) LANAddr() netip.Addr { return r.lan.Addr() }

// LAN is the router's LAN prefix.
func (r *Router) LAN() netip.Prefix { return r.lan.Masked() }

// SetWANAddr moves the router to a new public address, as when an ISP hands
// out another one, and forgets every NAT state (conntrack), so existing
// connections through the router break. a must be on the internet and
// unused; Lab.NextPublicAddr gives one.
func (r *Router) SetWANAddr(a netip.Addr) error {
	if !internet.Contains(a) {
		return fmt.Errorf("natlab: %v is not on the lab's internet %v", a, internet)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Delete first: deleting a primary address drops its secondaries.
	err := ipAll(
		[]string{"-n", r.ns, "addr", "del", netip.PrefixFrom(r.wan, internet.Bits()).String(), "dev", "wan0"},
		[]string{"-n", r.ns, "addr", "add", netip.PrefixFrom(a, internet.Bits()).String(), "dev", "wan0"},
	)
	if err != nil {
		return fmt.Errorf("natlab: router %s: %w", r.name, err)
	}
	r.wan = a
	return r.flushConntrack()
}

// flushConntrack forgets every connection the router tracks.
func (r *Router) flushConntrack() error {
	if err := inNS(r.ns, nil, "conntrack", "-F"); err != nil {
		return fmt.Errorf("natlab: router %s: %w", r.name, err)
	}
	return nil
}
