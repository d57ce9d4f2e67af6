package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/natlab"
	"github.com/p2pchat/p2pchat/tracker/client"
)

// The port-mapping lab: a tracker and a public host ("bob") on the lab's
// internet, and alice on a home LAN behind a router that masquerades and
// runs miniupnpd. Everything runs in network namespaces the lab creates
// and removes; nothing reaches the machine's own network.

const labPeerPort = 7171

// labTracker runs chat-tracker on a public lab host and returns its URL.
func (e *testEnv) labTracker(h *natlab.Host) string {
	t := e.t
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "tracker.toml")
	if err := os.WriteFile(cfg, []byte(trackerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(h.Addr(), 7070).String()
	p := e.startCmd("chat-tracker "+addr, h.Command(context.Background(), bin("chat-tracker"), "--config", cfg,
		"--listen", addr, "--db", filepath.Join(t.TempDir(), "tracker.db"), "--log-format", "console"))
	url := "http://" + addr
	hc := h.HTTPClient()
	waitFor(t, "tracker /healthz on "+addr, func() bool {
		if !p.running() {
			t.Fatalf("chat-tracker exited at start: %v\n%s", p.err, p.out)
		}
		resp, err := hc.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return url
}

// labChatd describes a daemon on a lab host listening on all its addresses
// (as the default configuration does), with fast timers and extra config.
func (e *testEnv) labChatd(h *natlab.Host, name, trackerURL, extraConfig string, flags ...string) *chatd {
	e.t.Helper()
	d := e.newChatd(name, trackerURL)
	d.host, d.listen, d.flags = h, fmt.Sprintf("0.0.0.0:%d", labPeerPort), flags
	d.config = filepath.Join(e.home, name+".toml")
	if err := os.WriteFile(d.config, []byte(fastConfig+extraConfig), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return d
}

const labPortMapConfig = `
[portmap]
check_interval = "200ms"
`

// recordAddrs looks name up on the tracker from host h (the record is
// verified by the client) and returns its addresses, or nil.
func recordAddrs(h *natlab.Host, trackerURL, name string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hc := h.HTTPClient()
	// No keep-alive goroutine may outlive the lookup: CloseIdleConnections
	// alone races with the connection going back to the idle pool, which
	// the tests' goroutine check saw.
	hc.Transport.(*http.Transport).DisableKeepAlives = true
	defer hc.CloseIdleConnections()
	rec, _, err := client.New(trackerURL, hc).Lookup(ctx, name)
	if err != nil {
		return nil
	}
	return rec.Addrs
}

// mappingsTo lists the router's redirects to addr.
func mappingsTo(t *testing.T, r *natlab.Router, addr netip.AddrPort) []natlab.Redirect {
	t.Helper()
	rs, err := r.Redirects()
	if err != nil {
		t.Fatalf("read the router's redirects: %v", err)
	}
	var out []natlab.Redirect
	for _, x := range rs {
		if x.Internal == addr && strings.EqualFold(x.Proto, "tcp") {
			out = append(out, x)
		}
	}
	return out
}

// portMapLab is the tests' world: a tracker and a public host on the
// lab's internet, and a LAN host behind one home router.
type portMapLab struct {
	lab      *natlab.Lab
	url      string       // the tracker
	outside  *natlab.Host // public
	home     *natlab.Router
	lan      *natlab.Host // behind home
	internal netip.AddrPort
	wantExt  string // the router's WAN address with the peer port
}

func newPortMapLab(e *testEnv, o natlab.RouterOptions) *portMapLab {
	e.t.Helper()
	l := &portMapLab{lab: natlab.New(e.t)}
	trk := l.lab.AddPublicHost("tracker")
	l.outside = l.lab.AddPublicHost("outside")
	l.home = l.lab.AddRouter("home", o)
	l.lan = l.home.AddHost("alice")
	l.url = e.labTracker(trk)
	l.internal = netip.AddrPortFrom(l.lan.Addr(), labPeerPort)
	l.wantExt = netip.AddrPortFrom(l.home.WAN(), labPeerPort).String()
	return l
}

// stopUnmapped stops d and checks the router forwards nothing to it.
func (l *portMapLab) stopUnmapped(t *testing.T, d *chatd) {
	t.Helper()
	d.stop()
	if m := mappingsTo(t, l.home, l.internal); len(m) != 0 {
		t.Fatalf("%s stopped, the router still forwards: %v", d.name, m)
	}
}

func TestPortMapThroughRealRouter(t *testing.T) {
	e := newEnv(t)
	// A symmetric NAT gives alice's outgoing connections random ports, so
	// the tracker observes WAN:random: WAN:7171 in her record can only come
	// from the port mapping.
	l := newPortMapLab(e, natlab.RouterOptions{NAT: natlab.Symmetric, UPnP: true, PMP: true})
	bobHost, home, aliceHost, url := l.outside, l.home, l.lan, l.url
	aliceInternal, wantExt := l.internal, l.wantExt

	alice := e.labChatd(aliceHost, "alice", url, labPortMapConfig)
	t0 := time.Now()
	alice.start()
	waitFor(t, "the mapped address in alice's record", func() bool {
		return slices.Contains(recordAddrs(bobHost, url, "alice"), wantExt)
	})
	t.Logf("chatd start -> mapped address published on the tracker: %v", time.Since(t0).Round(time.Millisecond))

	st, ok := alice.status()
	pm := st.PortMap
	if !ok || pm.State != "mapped" || pm.Method != "upnp" || pm.External != wantExt || pm.Gateway != home.LANAddr().String() ||
		pm.BehindNAT || !slices.Equal(st.PublicAddrs, []string{wantExt}) || time.Until(pm.Expires) < 50*time.Minute {
		t.Fatalf("alice's status: %+v", st)
	}
	t.Logf("chatctl status of alice:\n%s", alice.must("status"))
	if m := mappingsTo(t, home, aliceInternal); len(m) != 1 || m[0].ExternalPort != labPeerPort {
		t.Fatalf("router's redirects to %v: %v", aliceInternal, m)
	}

	// A host on the internet reaches alice's chatd through the mapping.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := bobHost.Dial(ctx, "tcp", wantExt)
	if err != nil {
		t.Fatalf("dial alice's mapped address from the internet: %v", err)
	}
	c.Close()

	// A peer on the internet messages alice; alice answers.
	bob := e.labChatd(bobHost, "bob", url, "", "--portmap=false")
	bob.start()
	bob.waitRegistered()
	if st, _ := bob.status(); st.PortMap.State != "off" || !strings.Contains(st.PortMap.Detail, "disabled") {
		t.Fatalf("bob runs with --portmap=false: %+v", st.PortMap)
	}
	befriend(alice, bob)
	bob.must("send", "--wait", "alice", "hi alice, from the internet")
	alice.waitBodies("bob", []string{"in:hi alice, from the internet"})
	alice.must("send", "--wait", "bob", "hi bob, from behind the router")

	// Stopping chatd deletes the mapping.
	l.stopUnmapped(t, alice)
}

// Renewal before expiry, re-creation after the router reboots, a new record
// after the router's WAN address changes, and no duplicate after a crash.
func TestPortMapKeepsMappingThroughRouterEvents(t *testing.T) {
	e := newEnv(t)
	l := newPortMapLab(e, natlab.RouterOptions{NAT: natlab.Cone, UPnP: true, PMP: true})
	lab, watcher, home, aliceHost, url, aliceInternal := l.lab, l.outside, l.home, l.lan, l.url, l.internal
	published := func(ext netip.Addr) bool {
		return slices.Contains(recordAddrs(watcher, url, "alice"), netip.AddrPortFrom(ext, labPeerPort).String())
	}

	// A 4 s lease is renewed every 2 s: after 6 s the mapping still stands
	// and its expiry has moved on.
	alice := e.labChatd(aliceHost, "alice", url, labPortMapConfig+"lease = \"4s\"\n")
	alice.start()
	waitFor(t, "the first mapping", func() bool { return published(home.WAN()) })
	first, _ := alice.status()
	time.Sleep(6 * time.Second)
	later, _ := alice.status()
	if later.PortMap.State != "mapped" || !later.PortMap.Expires.After(first.PortMap.Expires.Add(time.Second)) {
		t.Fatalf("lease not renewed: first %+v, 6 s later %+v", first.PortMap, later.PortMap)
	}
	if m := mappingsTo(t, home, aliceInternal); len(m) != 1 {
		t.Fatalf("after 6 s of a 4 s lease the router forwards %v", m)
	}

	// The router reboots: its rules and leases are gone; chatd maps again.
	if err := home.RestartGateway(true); err != nil {
		t.Fatal(err)
	}
	if m := mappingsTo(t, home, aliceInternal); len(m) != 0 {
		t.Fatalf("a rebooted router still has %v", m)
	}
	waitFor(t, "the mapping re-created after the router rebooted", func() bool {
		return len(mappingsTo(t, home, aliceInternal)) == 1
	})

	// A new WAN address: the record follows within seconds.
	old, next := home.WAN(), lab.NextPublicAddr()
	if err := home.SetWANAddr(next); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	waitFor(t, "alice's record with the router's new address", func() bool { return published(next) && !published(old) })
	t.Logf("new WAN address -> new record: %v", time.Since(t0).Round(time.Millisecond))

	// SIGKILL leaves the mapping; the next start reclaims it: one mapping,
	// same port.
	alice.kill()
	before := mappingsTo(t, home, aliceInternal)
	if len(before) != 1 {
		t.Fatalf("after SIGKILL the router forwards %v, want the mapping left behind", before)
	}
	alice.restart()
	waitFor(t, "alice mapped again after the crash", func() bool {
		st, ok := alice.status()
		return ok && st.PortMap.State == "mapped"
	})
	if after := mappingsTo(t, home, aliceInternal); !slices.Equal(after, before) {
		t.Fatalf("after the restart the router forwards %v, before %v: want the same single mapping", after, before)
	}
	l.stopUnmapped(t, alice)
}

// The same router with UPnP off: PCP and NAT-PMP each map the port
// through miniupnpd. (Which is preferred when several answer is tested
// against the fakes in daemon/portmap.)
func TestPortMapPCPAndNATPMP(t *testing.T) {
	l := newPortMapLab(newEnv(t), natlab.RouterOptions{NAT: natlab.Cone, PMP: true})
	outside, home, aliceHost, url, aliceInternal, wantExt := l.outside, l.home, l.lan, l.url, l.internal, l.wantExt
	for _, tc := range []struct{ method, config string }{
		{"pcp", "protocols = [\"pcp\"]\n"},
		{"nat-pmp", "protocols = [\"nat-pmp\"]\n"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			alice := newEnv(t).labChatd(aliceHost, "alice-"+tc.method, url, labPortMapConfig+tc.config)
			alice.start()
			alice.waitRegistered()
			waitFor(t, "alice mapped", func() bool {
				st, ok := alice.status()
				return ok && st.PortMap.State == "mapped"
			})
			st, _ := alice.status()
			if st.PortMap.Method != tc.method || st.PortMap.External != wantExt {
				t.Fatalf("port map %+v, want %s mapping %s", st.PortMap, tc.method, wantExt)
			}
			waitFor(t, "the mapped address in alice's record", func() bool {
				return slices.Contains(recordAddrs(outside, url, alice.name), wantExt)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := outside.Dial(ctx, "tcp", wantExt)
			if err != nil {
				t.Fatalf("dial through the %s mapping: %v", tc.method, err)
			}
			c.Close()
			if m := mappingsTo(t, home, aliceInternal); len(m) != 1 {
				t.Fatalf("router forwards %v", m)
			}
			l.stopUnmapped(t, alice)
		})
	}
}
