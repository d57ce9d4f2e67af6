// Package natlab builds a small internet out of Linux network namespaces for
// tests: public hosts, home routers that NAT their LAN and run a real UPnP
// IGD, NAT-PMP and PCP gateway (Debian's miniupnpd), and hosts behind them.
// Everything is torn down when the test ends, even when it failed. Build
// makes the same lab outside a test (cmd/natdemo, `make demo-nat`).
//
//	lab := natlab.New(t) // skips (fails under CI=true) without root or the tools
//	tracker := lab.AddPublicHost("tracker")
//	home := lab.AddRouter("home", natlab.RouterOptions{NAT: natlab.Cone, UPnP: true, PMP: true})
//	alice := home.AddHost("alice")
//
//	ln, err := tracker.Listen("tcp", ":8443") // a socket inside tracker's namespace
//	to := netip.AddrPortFrom(tracker.Addr(), 8443).String()
//	conn, err := alice.Dial(ctx, "tcp", to)              // leaves through home's NAT
//	cmd := alice.Command(ctx, "/path/to/chatd", args...) // a program inside alice's namespace
//	err = home.RestartGateway(true)                      // a reboot: the mappings are gone
//
// # Topology
//
// The "internet" is one namespace holding a bridge on 11.0.0.0/16, an
// ordinary-looking public range (miniupnpd refuses to map behind reserved
// ranges such as 100.64/10 or the TEST-NETs) that exists only inside the
// lab. Public hosts and the routers' WAN interfaces (wan0) get addresses from
// it; nothing there has a default route, so a packet for any other address
// fails at once instead of leaving. Router number N (from 1) serves
// 192.168.N.0/24 on its bridge lan0: the router is 192.168.N.1, its hosts
// .2, .3 and so on, with a default route through the router. No interface
// or route of the lab is in the host's own namespace, and no process of the
// lab runs there.
//
// The lab speaks IPv6 too, without NAT, as home networks do. The internet
// segment is 2001:db8::/64 (documentation space, RFC 3849: harmless, since
// no packet leaves the lab, and global unicast to the programs under test,
// which publish such addresses as public). A node with the IPv4 address
// 11.0.X.Y has 2001:db8::X:Y (in hex) there ([Host.Addr6],
// [Router.WAN6]). Router N routes 2001:db8:N::/64 to its LAN
// ([Router.LAN6]): the router is 2001:db8:N::1, its hosts ::2, ::3 and so
// on, with an IPv6 default route through it; everything on the internet has
// a route to every router's LAN through that router's WAN address, and
// still no default route. Duplicate address detection is off in every lab
// namespace, so an address works the moment it is added.
//
// # Routers
//
// A router masquerades its LAN behind its WAN address: [Cone] keeps source
// ports when it can (plain MASQUERADE), [Symmetric] picks a random port for
// every connection (MASQUERADE --random-fully). Unsolicited inbound packets
// are dropped, or with RejectInbound new TCP connections are answered with a
// reset; only ports the gateway opened get through. There is no hairpin NAT:
// a LAN host cannot reach its own router's WAN address through a mapping.
//
// For IPv6 a router only forwards, through a stateful ip6tables-legacy
// firewall: the LAN may send anything out, and replies (conntrack
// ESTABLISHED,RELATED) come back in; new inbound connections are dropped,
// or refused with a reset under RejectInbound. Two hosts behind two such
// firewalls connect by a TCP simultaneous open from known ports, each
// one's SYN opening its own firewall for the other's. miniupnpd does not
// open IPv6 pinholes (it runs with ipv6_disable).
//
// With UPnP or PMP set, miniupnpd runs in the router's namespace in the
// foreground, with its own configuration, lease file and log. It listens on
// lan0: SSDP on port 1900 (HTTP on 5000), NAT-PMP and PCP on 5351. It
// reports the daemon's uptime as the NAT-PMP/PCP epoch, so a restart or a
// reboot ([Router.RestartGateway]) shows as the epoch going back, as on a
// router that rebooted. [Router.Redirects] lists the mappings it installed;
// [Router.SetWANAddr] gives the router a new public address;
// [Router.GatewayLog] returns what it logged (also logged by the lab when the
// test failed).
//
// # Sockets and processes inside the lab
//
// [Host.Command] runs a program inside a host's namespace (through
// `ip netns exec`, which execs it, so the PID is the program's own). The
// test still owns the command and must Wait for it; the lab kills whatever
// is still running when it is torn down.
//
// [Host.Dial], [Host.Listen] and [Host.ListenPacket] create the socket on a
// thread that has entered the host's namespace and then return it: the
// socket stays there while the calling code uses it from anywhere. Addresses
// must be IP literals (no name resolution happens inside the lab).
// [Host.HTTPClient] dials the same way. [Host.Do] runs any function on such
// a thread, for sockets made with other options (SO_REUSEPORT, say); only
// what that function does on its own goroutine happens inside.
//
// # Running
//
// The lab needs root, ip (iproute2), iptables-legacy and
// ip6tables-legacy, conntrack and, for
// gateways, miniupnpd (Debian packages iproute2, iptables, conntrack,
// miniupnpd-iptables; scripts/test.sh installs them). Without them New skips
// the test, or fails it under CI=true.
//
// Namespace names are "p2pc-<pid>-<n>-<name>", so test binaries running at
// the same time never clash; New deletes leftover namespaces of processes
// that no longer exist, which a crashed run leaves behind. Processes the lab
// starts are killed by the kernel if the test binary dies.
//
// Build the lab from the test's goroutine: New and the Add methods stop the
// test with t.Fatal when the lab cannot be built. The other methods return
// errors and are safe for concurrent use.
//
// # Without a test
//
// [Build] runs a function that adds the nodes; an Add method that fails
// stops it, as t.Fatal stops a test, and Build returns the error after
// tearing down what was built. [Check] says, with a hint, why no lab can be
// built here. [Lab.Close] does what a test's cleanup does; a lab made with
// Build is the caller's to Close:
//
//	lab, err := natlab.Build(natlab.Options{}, func(lab *natlab.Lab) {
//		alice = lab.AddRouter("home", natlab.RouterOptions{NAT: natlab.Cone}).AddHost("alice")
//	})
//	if err != nil {
//		return err
//	}
//	defer lab.Close()
package natlab
