package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/natlab"
)

// The reachability lab: a tracker and a relay on the lab's internet, and
// daemons behind home routers with port mapping off, so that only the
// relay (and, where one side is public, a direct dial) can join them.

var relayAddrRE = regexp.MustCompile(`relay://[^\s"]+`)

// labRelayProc runs chat-relay on a public lab host with a key kept in
// dir (so a restart keeps its address) and returns the process and the
// relay:// address it prints.
func (e *testEnv) labRelayProc(h *natlab.Host, dir string) (*proc, string) {
	t := e.t
	t.Helper()
	hostPort := netip.AddrPortFrom(h.Addr(), 7072).String()
	p := e.startCmd("chat-relay "+hostPort, h.Command(context.Background(), bin("chat-relay"),
		"--listen", hostPort, "--public-addr", hostPort, "--key", filepath.Join(dir, "relay.key"),
		"--metrics-listen", "", "--log-format", "console"))
	var addr string
	waitFor(t, "chat-relay to print its address", func() bool {
		if !p.running() {
			t.Fatalf("chat-relay exited at start: %v\n%s", p.err, p.out)
		}
		addr = relayAddrRE.FindString(p.out.String())
		return addr != ""
	})
	return p, addr
}

// relayConfig turns port mapping off and names the relay.
func relayConfig(addr string) string {
	return fmt.Sprintf("\n[portmap]\nenabled = false\n\n[relay]\nservers = [%q]\n", addr)
}

// waitReserved waits until d holds its relay reservation and publishes it.
func waitReserved(t *testing.T, d *chatd, relay string) {
	t.Helper()
	waitFor(t, d.name+"'s relay reservation", func() bool {
		st, ok := d.status()
		return ok && st.Relay.State == "reserved" && st.Relay.Relay == relay
	})
}

// pathTo is the path d's session with peer takes, or "" without one.
func pathTo(d *chatd, peer string) string {
	st, _ := d.status()
	for _, p := range st.Online {
		if p.Name == peer {
			return p.Path
		}
	}
	return ""
}

// Two users behind symmetric NATs, without port mapping: nothing but the
// relay joins them. Messages flow both ways exactly once, through the
// relay, and the conversation survives the relay restarting.
func TestRelayJoinsSymmetricNATs(t *testing.T) {
	e := newEnv(t)
	lab := natlab.New(t)
	url := e.labTracker(lab.AddPublicHost("tracker"))
	relayHost := lab.AddPublicHost("relay")
	relayDir := t.TempDir()
	rp, raddr := e.labRelayProc(relayHost, relayDir)
	homeA := lab.AddRouter("home-a", natlab.RouterOptions{NAT: natlab.Symmetric})
	homeB := lab.AddRouter("home-b", natlab.RouterOptions{NAT: natlab.Symmetric})
	alice := e.labChatd(homeA.AddHost("alice"), "alice", url, relayConfig(raddr))
	bob := e.labChatd(homeB.AddHost("bob"), "bob", url, relayConfig(raddr))
	alice.start()
	bob.start()
	alice.waitRegistered()
	bob.waitRegistered()
	waitReserved(t, alice, raddr)
	waitReserved(t, bob, raddr)

	t0 := time.Now()
	alice.must("send", "--wait", "bob", "hello through two NATs")
	t.Logf("both up -> first message delivered through the relay: %v", time.Since(t0).Round(time.Millisecond))
	bob.must("send", "--wait", "alice", "hello back")
	if p := pathTo(alice, "bob"); p != "relayed" {
		t.Fatalf("alice reaches bob by %q, want relayed", p)
	}
	if p := pathTo(bob, "alice"); p != "relayed" {
		t.Fatalf("bob reaches alice by %q, want relayed", p)
	}

	// The relay restarts in the middle of the conversation: the daemons
	// reserve again and what was sent meanwhile arrives once, in order.
	rp.stop()
	var sent []string
	for i := range 5 {
		body := fmt.Sprintf("while the relay was down %d", i)
		alice.must("send", "bob", body)
		sent = append(sent, "in:"+body)
	}
	_, again := e.labRelayProc(relayHost, relayDir)
	if again != raddr {
		t.Fatalf("the relay came back as %s, was %s", again, raddr)
	}
	waitReserved(t, bob, raddr)
	want := append([]string{"in:hello through two NATs", "out:hello back"}, sent...)
	bob.waitBodies("alice", want)
	alice.waitAllDelivered("bob")
}
