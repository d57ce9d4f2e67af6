package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/natlab"
)

// IPv6 in the NAT lab: every host has a public IPv6 address (the routers
// route a /64 to each LAN, without NAT66) behind a stateful firewall, while
// IPv4 goes through the routers' NAT. Daemons listen dual-stack, as the
// default configuration does.

// dualStackChatd is labChatd listening on [::], both families.
func (e *testEnv) dualStackChatd(h *natlab.Host, name, trackerURL, extraConfig string, flags ...string) *chatd {
	e.t.Helper()
	d := e.labChatd(h, name, trackerURL, extraConfig, flags...)
	d.listen = fmt.Sprintf("[::]:%d", labPeerPort)
	return d
}

// remoteTo is the remote address of d's session with peer, or "".
func remoteTo(d *chatd, peer string) string {
	st, _ := d.status()
	for _, p := range st.Online {
		if p.Name == peer {
			return p.RemoteAddr
		}
	}
	return ""
}

// peerAddr6 is h's IPv6 address with chatd's port, as records carry it.
func peerAddr6(h *natlab.Host) string {
	return netip.AddrPortFrom(h.Addr6(), labPeerPort).String()
}

// waitRecordHas waits until name's record on the tracker lists addr.
func waitRecordHas(t *testing.T, from *natlab.Host, trackerURL, name, addr string) {
	t.Helper()
	waitFor(t, name+"'s record to list "+addr, func() bool {
		return slices.Contains(recordAddrs(from, trackerURL, name), addr)
	})
}

// Two users behind routers whose IPv4 NAT is symmetric (so IPv4 can only
// be relayed) and whose IPv6 firewalls are stateful: the first message goes
// through the relay, and the upgrade's simultaneous open from both
// listening ports gets through both firewalls over IPv6. Messages flow
// once each way on the punched IPv6 path.
func TestIPv6PunchesThroughStatefulFirewalls(t *testing.T) {
	e := newEnv(t)
	lab, url, raddr := e.reachLab()
	ah := lab.AddRouter("home-a", natlab.RouterOptions{NAT: natlab.Symmetric}).AddHost("alice")
	bh := lab.AddRouter("home-b", natlab.RouterOptions{NAT: natlab.Symmetric}).AddHost("bob")
	alice := e.dualStackChatd(ah, "alice", url, relayConfig(raddr), "--log-level", "debug")
	bob := e.dualStackChatd(bh, "bob", url, relayConfig(raddr), "--log-level", "debug")
	t.Cleanup(func() {
		for _, h := range []*natlab.Host{ah, bh} {
			if t.Failed() {
				out, _ := exec.Command("ip", "netns", "exec", h.Router().Namespace(), "conntrack", "-L", "-f", "ipv6").CombinedOutput()
				t.Logf("IPv6 conntrack of %s:\n%s", h.Router().Name(), out)
			}
		}
	})
	alice.start()
	bob.start()
	alice.waitRegistered()
	bob.waitRegistered()
	// Unreachable over IPv4 (the tracker's dial-back fails), so both
	// hold a reservation; both publish their IPv6 address.
	waitReserved(t, alice, raddr)
	waitReserved(t, bob, raddr)
	waitRecordHas(t, ah, url, "bob", peerAddr6(bh))
	waitRecordHas(t, bh, url, "alice", peerAddr6(ah))

	t0 := time.Now()
	alice.must("send", "--wait", "bob", "first")
	first := time.Since(t0)
	waitFor(t, "alice's session with bob on a punched IPv6 path", func() bool {
		p := pathTo(alice, "bob")
		return (p == "punched" || p == "direct") && remoteTo(alice, "bob") == peerAddr6(bh)
	})
	upgraded := time.Since(t0)
	path := pathTo(alice, "bob")
	if r := remoteTo(bob, "alice"); r != peerAddr6(ah) {
		t.Errorf("bob's session with alice is with %q, want %s", r, peerAddr6(ah))
	}
	bob.must("send", "--wait", "alice", "back")
	alice.must("send", "--wait", "bob", "again")
	bob.waitBodies("alice", []string{"in:first", "out:back", "in:again"})
	alice.waitBodies("bob", []string{"out:first", "in:back", "out:again"})
	if p, r := pathTo(alice, "bob"), remoteTo(alice, "bob"); p != path || r != peerAddr6(bh) {
		t.Errorf("after the messages alice reaches bob by %q at %q, want %s at %s", p, r, path, peerAddr6(bh))
	}
	t.Logf("IPv6 behind stateful firewalls (IPv4 symmetric NAT): first message %v (relayed), %s IPv6 path after %v",
		first.Round(time.Millisecond), path, upgraded.Round(time.Millisecond))
}

// Two public dual-stack users: the record carries both families, and the
// session is direct over IPv6, which the dialler tries first.
func TestIPv6PreferredBetweenPublicHosts(t *testing.T) {
	e := newEnv(t)
	lab := natlab.New(t)
	url := e.labTracker(lab.AddPublicHost("tracker"))
	ah, bh := lab.AddPublicHost("alice"), lab.AddPublicHost("bob")
	noPortMap := "\n[portmap]\nenabled = false\n"
	alice := e.dualStackChatd(ah, "alice", url, noPortMap)
	bob := e.dualStackChatd(bh, "bob", url, noPortMap)
	alice.start()
	bob.start()
	alice.waitRegistered()
	bob.waitRegistered()
	waitRecordHas(t, ah, url, "bob", peerAddr6(bh))
	waitRecordHas(t, ah, url, "bob", netip.AddrPortFrom(bh.Addr(), labPeerPort).String())

	t0 := time.Now()
	alice.must("send", "--wait", "bob", "hello over IPv6")
	first := time.Since(t0)
	if p, r := pathTo(alice, "bob"), remoteTo(alice, "bob"); p != "direct" || r != peerAddr6(bh) {
		t.Fatalf("alice reaches bob by %q at %q, want direct at %s", p, r, peerAddr6(bh))
	}
	bob.must("send", "--wait", "alice", "and back")
	bob.waitBodies("alice", []string{"in:hello over IPv6", "out:and back"})
	alice.waitBodies("bob", []string{"out:hello over IPv6", "in:and back"})
	t.Logf("public dual-stack pair: first message %v, direct over IPv6", first.Round(time.Millisecond))
}
