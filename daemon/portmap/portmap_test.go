package portmap_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/daemon/portmap"
	"github.com/p2pchat/p2pchat/daemon/portmap/portmaptest"
	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// Each test's fake gateway has its own loopback address, so the standard
// ports (1900, 5351) never clash between tests.
var nextGW = struct {
	sync.Mutex
	n byte
}{n: 10}

func gatewayAddr() netip.Addr {
	nextGW.Lock()
	defer nextGW.Unlock()
	nextGW.n++
	return netip.AddrFrom4([4]byte{127, 0, 0, nextGW.n})
}

const internalPort = 7171

var self = netip.MustParseAddr("127.0.0.1")

// running is a Service under test with its Run goroutine.
type running struct {
	*portmap.Service
	changes chan portmap.Status
	stop    func() time.Duration // cancels Run and returns how long it took to return
}

func start(t *testing.T, gw netip.Addr, tune func(*portmap.Config)) *running {
	t.Helper()
	changes := make(chan portmap.Status, 100)
	cfg := portmap.Config{
		InternalPort:  internalPort,
		CheckInterval: 50 * time.Millisecond,
		BackoffMin:    50 * time.Millisecond,
		BackoffMax:    200 * time.Millisecond,
		ProbeTimeout:  time.Second,
		Gateway:       func() (netip.Addr, netip.Addr, error) { return gw, self, nil },
		OnChange:      func(s portmap.Status) { changes <- s },
		Log:           zaptest.NewLogger(t),
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := portmap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	var took time.Duration
	stop := func() time.Duration {
		once.Do(func() {
			t0 := time.Now()
			cancel()
			<-done
			took = time.Since(t0)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return &running{Service: s, changes: changes, stop: stop}
}

// waitStatus waits until the status satisfies ok.
func waitStatus(t *testing.T, r *running, what string, ok func(portmap.Status) bool) portmap.Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := r.Status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: status %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mapped(st portmap.Status) bool { return st.State == portmap.StateMapped }

func waitMappings(t *testing.T, what string, get func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for get() != want {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %d mappings, want %d", what, get(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUPnPMapsAndDeletesOnStop(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	r := start(t, gw, nil)
	st := waitStatus(t, r, "a mapping", mapped)
	want := netip.MustParseAddrPort("203.0.113.7:7171")
	if st.Method != portmap.MethodUPnP || st.External != want || st.Gateway != gw.String() || st.Permanent || st.BehindNAT {
		t.Fatalf("status %+v, want upnp via %s mapping %s with a lease", st, gw, want)
	}
	if r.Public() != want {
		t.Fatalf("Public() = %v, want %v", r.Public(), want)
	}
	if until := time.Until(st.Expires); until < 59*time.Minute || until > time.Hour {
		t.Fatalf("lease expires in %v, want about an hour", until)
	}
	m := igd.Mappings()
	if len(m) != 1 || m[0].ExternalPort != internalPort || m[0].InternalPort != internalPort ||
		m[0].Client != "127.0.0.1" || m[0].Protocol != "TCP" || m[0].Lease != 3600 || m[0].Description != "p2pchat chatd" {
		t.Fatalf("gateway holds %+v", m)
	}
	calls := igd.Calls()
	if ext, add := slices.Index(calls, "GetExternalIPAddress"), slices.Index(calls, "AddPortMapping"); ext < 0 || add < ext {
		t.Fatalf("calls %v: the external address must be read before the mapping is added", calls)
	}
	if c := <-r.changes; c.External != want {
		t.Fatalf("first change %+v", c)
	}
	if took := r.stop(); took > portmap.DeleteBudget {
		t.Fatalf("stopping took %v, budget %v", took, portmap.DeleteBudget)
	}
	if m := igd.Mappings(); len(m) != 0 {
		t.Fatalf("after stop the gateway still holds %+v", m)
	}
	if st := r.Status(); st.State != portmap.StateStopped || st.LastError != "" {
		t.Fatalf("after stop: %+v", st)
	}
}

func TestUPnPRenewsBeforeExpiry(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	r := start(t, gw, func(c *portmap.Config) { c.Lease = 2 * time.Second })
	first := waitStatus(t, r, "a mapping", mapped)
	if m := igd.Mappings(); len(m) != 1 || m[0].Lease != 2 {
		t.Fatalf("gateway holds %+v, want one 2 s lease", m)
	}
	renewed := waitStatus(t, r, "a renewal", func(s portmap.Status) bool { return s.Expires.After(first.Expires) })
	if !renewed.Expires.After(first.Expires) || time.Now().After(first.Expires) {
		t.Fatalf("renewed only after the first lease expired (%v)", first.Expires)
	}
	if n := strings.Count(strings.Join(igd.Calls(), " "), "AddPortMapping"); n < 2 {
		t.Fatalf("%d AddPortMapping calls, want a renewal", n)
	}
}

func TestUPnPOnlyPermanentLeases(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	igd.OnlyPermanent(true)
	r := start(t, gw, nil)
	st := waitStatus(t, r, "a mapping", mapped)
	if !st.Permanent || !st.Expires.IsZero() {
		t.Fatalf("status %+v, want a permanent mapping", st)
	}
	if m := igd.Mappings(); len(m) != 1 || m[0].Lease != 0 {
		t.Fatalf("gateway holds %+v, want one lease-0 mapping", m)
	}
	r.stop()
	if m := igd.Mappings(); len(m) != 0 {
		t.Fatalf("a permanent mapping was left behind: %+v", m)
	}
}

func TestUPnPConflictTakesAnotherPort(t *testing.T) {
	for _, svc := range []string{"WANIPConnection:2", "WANIPConnection:1"} {
		t.Run(svc, func(t *testing.T) {
			leakcheck.Check(t)
			gw := gatewayAddr()
			igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{Services: []portmaptest.Service{{Type: svc}}})
			igd.Take(internalPort)
			r := start(t, gw, nil)
			st := waitStatus(t, r, "a mapping", mapped)
			if p := st.External.Port(); p == internalPort || p < 1024 {
				t.Fatalf("mapped external port %d; want another port >= 1024", p)
			}
			m := igd.Mappings()
			if len(m) != 1 || m[0].ExternalPort != st.External.Port() {
				t.Fatalf("gateway holds %+v, status says %v", m, st.External)
			}
			if usedAny := slices.Contains(igd.Calls(), "AddAnyPortMapping"); usedAny != strings.HasSuffix(svc, ":2") {
				t.Fatalf("AddAnyPortMapping used=%v on %s (calls %v)", usedAny, svc, igd.Calls())
			}
		})
	}
}

func TestUPnPFailingExternalAddressAddsNothing(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	igd.FailExternalIP(true)
	r := start(t, gw, nil)
	st := waitStatus(t, r, "a failure", func(s portmap.Status) bool { return s.State == portmap.StateFailed })
	if !strings.Contains(st.LastError, "GetExternalIPAddress") || !strings.Contains(st.LastError, "501") {
		t.Fatalf("last error %q does not name the failed call", st.LastError)
	}
	time.Sleep(200 * time.Millisecond) // a few retries
	if slices.Contains(igd.Calls(), "AddPortMapping") || len(igd.Mappings()) != 0 {
		t.Fatalf("a mapping was added although the external address could not be read: %v", igd.Calls())
	}
	igd.FailExternalIP(false)
	waitStatus(t, r, "a mapping once the gateway recovers", mapped)
}

func TestUPnPReclaimsMappingLeftByCrash(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	igd.Take(internalPort)
	// What a chatd killed with SIGKILL left: its own port was taken, so it
	// had got 40000.
	igd.Add(portmaptest.Entry{ExternalPort: 40000, Protocol: "TCP", InternalPort: internalPort,
		Client: "127.0.0.1", Description: "p2pchat chatd", Lease: 3600})
	// Another host's mapping with our description must be left alone.
	igd.Add(portmaptest.Entry{ExternalPort: 40001, Protocol: "TCP", InternalPort: internalPort,
		Client: "127.0.0.9", Description: "p2pchat chatd", Lease: 3600})
	r := start(t, gw, nil)
	st := waitStatus(t, r, "a mapping", mapped)
	if st.External.Port() != 40000 {
		t.Fatalf("mapped port %d, want the crashed daemon's 40000 reused", st.External.Port())
	}
	if m := igd.Mappings(); len(m) != 2 {
		t.Fatalf("gateway holds %+v, want the reclaimed mapping and the other host's", m)
	}
}

func TestUPnPPrefersConnectedServiceWithPublicAddress(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{Services: []portmaptest.Service{
		{Type: "WANIPConnection:2", Status: "Disconnected", ExternalIP: "198.51.100.1"},
		{Type: "WANIPConnection:1", ExternalIP: "10.0.0.2"},
		{Type: "WANPPPConnection:1", ExternalIP: "198.51.100.9"},
	}})
	r := start(t, gw, nil)
	st := waitStatus(t, r, "a mapping", mapped)
	if st.External.Addr() != netip.MustParseAddr("198.51.100.9") {
		t.Fatalf("mapped through %v; want the connected PPP service with the public address", st.External)
	}
}

func TestBehindAnotherNATIsNotPublic(t *testing.T) {
	for _, ext := range []string{"100.64.3.4", "192.168.1.2", "0.0.0.0"} {
		t.Run(ext, func(t *testing.T) {
			leakcheck.Check(t)
			gw := gatewayAddr()
			portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{ExternalIP: ext})
			r := start(t, gw, nil)
			st := waitStatus(t, r, "a mapping", mapped)
			if !st.BehindNAT || r.Public().IsValid() {
				t.Fatalf("external %s: status %+v, Public %v; want behind another NAT and nothing to publish", ext, st, r.Public())
			}
		})
	}
}

func TestUPnPLostMappingAndNewAddress(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	r := start(t, gw, nil)
	waitStatus(t, r, "a mapping", mapped)
	<-r.changes
	igd.Reboot()
	waitMappings(t, "the mapping re-created after a reboot", func() int { return len(igd.Mappings()) }, 1)

	igd.SetExternalIP("198.51.100.77")
	select {
	case c := <-r.changes:
		if c.External != netip.MustParseAddrPort("198.51.100.77:7171") {
			t.Fatalf("change after the new WAN address: %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no change reported after the external address moved; status %+v", r.Status())
	}
}

func TestNATPMP(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	srv := portmaptest.NewPMP(t, gw, portmaptest.PMPOptions{PMP: true})
	r := start(t, gw, nil)
	st := waitStatus(t, r, "a mapping", mapped)
	if st.Method != portmap.MethodNATPMP || st.External != netip.MustParseAddrPort("203.0.113.7:7171") {
		t.Fatalf("status %+v", st)
	}
	if until := time.Until(st.Expires); until < 119*time.Minute {
		t.Fatalf("lease expires in %v, want two hours", until)
	}
	srv.Reboot() // epoch goes back to 0: the mappings are gone
	waitMappings(t, "the mapping re-created after the epoch went back", func() int { return len(srv.Mappings()) }, 1)
	srv.SetExternalIP("198.51.100.5")
	waitStatus(t, r, "the new external address", func(s portmap.Status) bool {
		return s.External == netip.MustParseAddrPort("198.51.100.5:7171")
	})
	r.stop()
	if m := srv.Mappings(); len(m) != 0 {
		t.Fatalf("after stop the gateway still holds %v", m)
	}
}

func TestPCP(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	srv := portmaptest.NewPMP(t, gw, portmaptest.PMPOptions{PMP: true, PCP: true})
	r := start(t, gw, nil)
	st := waitStatus(t, r, "a mapping", mapped)
	if st.Method != portmap.MethodPCP || st.External != netip.MustParseAddrPort("203.0.113.7:7171") {
		t.Fatalf("status %+v; want PCP preferred over NAT-PMP", st)
	}
	srv.Reboot()
	waitMappings(t, "the mapping re-created after the epoch went back", func() int { return len(srv.Mappings()) }, 1)
	r.stop()
	if m := srv.Mappings(); len(m) != 0 {
		t.Fatalf("after stop the gateway still holds %v", m)
	}
}

func TestProbePrefersUPnP(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	pmp := portmaptest.NewPMP(t, gw, portmaptest.PMPOptions{PMP: true, PCP: true})
	r := start(t, gw, nil)
	if st := waitStatus(t, r, "a mapping", mapped); st.Method != portmap.MethodUPnP {
		t.Fatalf("gateway speaking all three: chose %s", st.Method)
	}
	if len(igd.Mappings()) != 1 || len(pmp.Mappings()) != 0 {
		t.Fatalf("mappings: upnp %v, pmp/pcp %v; want only the UPnP one", igd.Mappings(), pmp.Mappings())
	}
}

func TestProtocolsRestrictTheProbe(t *testing.T) {
	leakcheck.Check(t)
	gw := gatewayAddr()
	igd := portmaptest.NewIGD(t, gw, portmaptest.IGDOptions{})
	pmp := portmaptest.NewPMP(t, gw, portmaptest.PMPOptions{PMP: true, PCP: true})
	r := start(t, gw, func(c *portmap.Config) { c.Protocols = []string{portmap.MethodNATPMP} })
	if st := waitStatus(t, r, "a mapping", mapped); st.Method != portmap.MethodNATPMP {
		t.Fatalf("with only nat-pmp allowed: chose %s", st.Method)
	}
	if len(igd.Calls()) != 0 || len(pmp.Mappings()) != 1 {
		t.Fatalf("upnp calls %v, pmp mappings %v", igd.Calls(), pmp.Mappings())
	}
	if _, err := portmap.New(portmap.Config{InternalPort: 1, Protocols: []string{"upnp", "smoke"}}); err == nil {
		t.Fatal("an unknown protocol was accepted")
	}
}

func TestNoGateway(t *testing.T) {
	leakcheck.Check(t)
	r := start(t, gatewayAddr(), func(c *portmap.Config) { c.ProbeTimeout = 300 * time.Millisecond })
	st := waitStatus(t, r, "no gateway", func(s portmap.Status) bool { return s.State == portmap.StateNoGateway })
	if !strings.Contains(st.LastError, "no gateway answered upnp, pcp, nat-pmp at") || r.Public().IsValid() {
		t.Fatalf("status %+v", st)
	}
	if took := r.stop(); took > portmap.DeleteBudget {
		t.Fatalf("stop took %v", took)
	}
}
