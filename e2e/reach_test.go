package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
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

// reachLab is the reachability tests' internet: a lab with a tracker and a
// chat-relay on public hosts; it returns the tracker URL and relay address.
func (e *testEnv) reachLab() (*natlab.Lab, string, string) {
	e.t.Helper()
	lab := natlab.New(e.t)
	url := e.labTracker(lab.AddPublicHost("tracker"))
	_, raddr := e.labRelayProc(lab.AddPublicHost("relay"), e.t.TempDir())
	return lab, url, raddr
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

// waitRelayState waits until d's relay reservation is in state.
func waitRelayState(t *testing.T, d *chatd, state string) {
	t.Helper()
	waitFor(t, d.name+"'s relay state "+state, func() bool {
		st, ok := d.status()
		return ok && st.Relay.State == state
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

// natKind is where a daemon of the reachability matrix lives.
type natKind string

const (
	public    natKind = "public"
	cone      natKind = "cone"
	symmetric natKind = "symmetric"
	coneRST   natKind = "cone-rst" // answers unsolicited inbound SYNs with RST
)

// labHostFor puts a host named name on the internet or behind its own
// router of the given kind (no UPnP: only this work can join them).
func labHostFor(lab *natlab.Lab, kind natKind, name string) *natlab.Host {
	switch kind {
	case cone:
		return lab.AddRouter("r-"+name, natlab.RouterOptions{NAT: natlab.Cone}).AddHost(name)
	case symmetric:
		return lab.AddRouter("r-"+name, natlab.RouterOptions{NAT: natlab.Symmetric}).AddHost(name)
	case coneRST:
		return lab.AddRouter("r-"+name, natlab.RouterOptions{NAT: natlab.Cone, RejectInbound: true}).AddHost(name)
	}
	return lab.AddPublicHost(name)
}

// For every pair of public, cone-NAT and symmetric-NAT users (port mapping
// off): the first message goes at once, by whatever path works, and the
// conversation ends on the best path that exists: direct between public
// users, reversed when the caller can be dialled, punched between two cone
// NATs, relayed only when nothing else works. Every message arrives once.
func TestReachabilityMatrix(t *testing.T) {
	for _, tc := range []struct {
		alice, bob natKind
		want       string // bob's path as alice sees it, in the end
	}{
		{public, public, "direct"},
		{public, cone, "reversed"},
		{public, symmetric, "reversed"},
		{cone, cone, "punched"},
		{cone, symmetric, "relayed"},
		{symmetric, symmetric, "relayed"},
		{public, coneRST, "reversed"},
		// Routers that answer unsolicited SYNs with RST kill a punch
		// unless both SYNs cross within one round trip; the lab's round
		// trip is microseconds, below scheduling jitter (and the kernel
		// here has no netem to lengthen it), so either outcome is right
		// as long as the conversation goes on: "" accepts punched or
		// relayed, after a few seconds of trying.
		{coneRST, coneRST, ""},
	} {
		t.Run(string(tc.alice)+"-"+string(tc.bob), func(t *testing.T) {
			e := newEnv(t)
			lab, url, raddr := e.reachLab()
			ah, bh := labHostFor(lab, tc.alice, "alice"), labHostFor(lab, tc.bob, "bob")
			alice := e.labChatd(ah, "alice", url, relayConfig(raddr), "--log-level", "debug")
			bob := e.labChatd(bh, "bob", url, relayConfig(raddr), "--log-level", "debug")
			t.Cleanup(func() {
				for _, h := range []*natlab.Host{ah, bh} {
					if r := h.Router(); r != nil && t.Failed() {
						out, _ := exec.Command("ip", "netns", "exec", r.Namespace(), "conntrack", "-L").CombinedOutput()
						t.Logf("conntrack of %s:\n%s", r.Name(), out)
					}
				}
			})
			for _, d := range []*chatd{alice, bob} {
				d.start()
			}
			for d, kind := range map[*chatd]natKind{alice: tc.alice, bob: tc.bob} {
				d.waitRegistered()
				if kind == public {
					waitRelayState(t, d, "not needed") // the tracker's dial-back got through
				} else {
					waitReserved(t, d, raddr)
				}
			}
			befriend(alice, bob)
			t0 := time.Now()
			alice.must("send", "--wait", "bob", "first")
			first := time.Since(t0)
			var sent []string
			settle := time.Now().Add(5 * time.Second)
			waitFor(t, "the best path ("+tc.want+")", func() bool {
				body := fmt.Sprintf("m%d", len(sent))
				alice.must("send", "bob", body)
				sent = append(sent, "in:"+body)
				p := pathTo(alice, "bob")
				if tc.want == "" {
					return p == "punched" || p == "relayed" && time.Now().After(settle)
				}
				return p == tc.want
			})
			best := time.Since(t0)
			if tc.want == "" {
				tc.want = pathTo(alice, "bob")
			}
			bob.must("send", "--wait", "alice", "back")
			bob.waitBodies("alice", append(append([]string{"in:first"}, sent...), "out:back"))
			t.Logf("matrix %s-%s: first message %v, %s path after %v (%d messages meanwhile)",
				tc.alice, tc.bob, first.Round(time.Millisecond), tc.want, best.Round(time.Millisecond), len(sent))
		})
	}
}

// Punching between two cone NATs, round after round with both daemons
// restarted in between (the routers keep their conntrack state, as real
// ones do): how often it works and how many attempts it takes. One user
// also starts late: messages sent while bob is down arrive, once and in
// order, once he is up.
func TestPunchRoundsAndLateStart(t *testing.T) {
	e := newEnv(t)
	lab, url, raddr := e.reachLab()
	alice := e.labChatd(labHostFor(lab, cone, "alice"), "alice", url, relayConfig(raddr), "--log-level", "debug")
	bob := e.labChatd(labHostFor(lab, cone, "bob"), "bob", url, relayConfig(raddr))
	const rounds = 4
	punched, attempts := 0, 0
	var want []string
	for round := range rounds {
		if round == 0 {
			alice.start()
			bob.start()
		} else {
			alice.restart()
			// bob starts late: alice's messages wait in her outbox.
			for i := range 2 {
				body := fmt.Sprintf("round %d, bob away %d", round, i)
				alice.must("send", "bob", body)
				want = append(want, "in:"+body)
			}
			bob.restart()
		}
		alice.waitRegistered()
		bob.waitRegistered()
		if round == 0 {
			befriend(alice, bob)
		}
		body := fmt.Sprintf("round %d", round)
		t0 := time.Now()
		alice.must("send", "--wait", "bob", body)
		want = append(want, "in:"+body)
		first := time.Since(t0)
		ok := false
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if pathTo(alice, "bob") == "punched" {
				ok = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ok {
			punched++
		}
		// Both sides count what they tried (status "upgrades"); chatd
		// restarts every round, so the counters start from zero.
		for _, d := range []*chatd{alice, bob} {
			st, _ := d.status()
			attempts += st.Upgrades.PunchAttempts
			if ok && st.Upgrades.Punched != 1 {
				t.Errorf("round %d: %s counts %d punched sessions, want 1", round, d.name, st.Upgrades.Punched)
			}
		}
		t.Logf("round %d: first message %v, punched=%v after %v", round, first.Round(time.Millisecond), ok, time.Since(t0).Round(time.Millisecond))
		bob.waitBodies("alice", want)
		alice.stop()
		bob.stop()
	}
	t.Logf("punch: %d of %d rounds, %d attempts in all (both sides)", punched, rounds, attempts)
	if punched < rounds {
		t.Errorf("punched in %d of %d rounds between two cone NATs", punched, rounds)
	}
}
