package presence

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	reuseport "github.com/libp2p/go-reuseport"
	"golang.org/x/sys/unix"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/server"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// reservePort holds a port on 127.0.0.1 with a socket that is bound
// (SO_REUSEPORT, so chatd's listener and tracker connection can share it)
// but not listening: a SYN to it is refused, deterministically.
func reservePort(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
}

// peerListener plays chatd's peer listener on addr: it accepts and closes.
func peerListener(t *testing.T, addr netip.AddrPort) net.Listener {
	t.Helper()
	ln, err := reuseport.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln
}

// reachPresence is a presence announcing as chatd does: from its listening
// port through HTTPClient. changes receives Status on each OnReachability.
func reachPresence(t *testing.T, tr *trackertest.Tracker, listen netip.AddrPort, tc *client.Client) (*Presence, chan Status) {
	t.Helper()
	if tc == nil {
		hc := HTTPClient(listen)
		t.Cleanup(hc.CloseIdleConnections)
		tc = client.New(tr.URL, hc)
	}
	changes := make(chan Status, 8)
	p, err := New(Config{
		Name: "alice", Key: newKey(t), Tracker: tc, Listen: listen,
		OnReachability: func(s Status) { changes <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, changes
}

func nextReach(t *testing.T, changes chan Status) Status {
	t.Helper()
	select {
	case s := <-changes:
		return s
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for a reachability change")
		return Status{}
	}
}

func TestReachableWhenListening(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	listen := reservePort(t)
	peerListener(t, listen)
	p, changes := reachPresence(t, tr, listen, nil)
	before := time.Now()
	stop := running(t, p)
	s := nextReach(t, changes)
	if s.Reachable != Reachable || s.ReachableAt.Before(before) || s.Observed != listen || !s.Registered {
		t.Fatalf("status %+v, want reachable at %v", s, listen)
	}
	if got := p.Status(); got.Reachable != Reachable {
		t.Fatalf("Status().Reachable = %v", got.Reachable)
	}
	if b, _ := json.Marshal(s.Reachable); string(b) != `"reachable"` {
		t.Errorf("JSON %s", b)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Nothing listens, then chatd's listener comes up and the port mapping
// changes (Kick): the next announce asks again and Reachable follows.
func TestReachabilityFollows(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	listen := reservePort(t)
	p, changes := reachPresence(t, tr, listen, nil)
	running(t, p)
	if s := nextReach(t, changes); s.Reachable != Unreachable || s.Observed != listen {
		t.Fatalf("with nothing listening: %v at %v, want unreachable at %v", s.Reachable, s.Observed, listen)
	}
	peerListener(t, listen)
	p.Kick()
	if s := nextReach(t, changes); s.Reachable != Reachable {
		t.Fatalf("after the listener came up: %v", s.Reachable)
	}
}

// An announce that did not leave from the listening port (here: a client
// with ephemeral ports) gets an answer about another port, which presence
// drops: Reachable stays unknown rather than wrongly unreachable.
func TestReachabilityIgnoresAnswersAboutAnotherPort(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	listen := reservePort(t)
	peerListener(t, listen)
	p, changes := reachPresence(t, tr, listen, tr.Client())
	running(t, p)
	waitFor(t, "registered", func() bool { return p.Status().Registered })
	first := p.Status().LastAnnounce
	p.Kick() // a second announce that asks again
	waitFor(t, "a second announce", func() bool { return p.Status().LastAnnounce.After(first) })
	select {
	case s := <-changes:
		t.Fatalf("reachability changed to %v from an answer about an ephemeral port", s.Reachable)
	case <-time.After(300 * time.Millisecond):
	}
	if r := p.Status().Reachable; r != Unknown {
		t.Fatalf("Reachable = %v, want unknown", r)
	}
	// The tracker did answer, about the ephemeral port.
	resp, err := http.Get(tr.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `tracker_dialbacks_total{outcome="unreachable"}`) {
		t.Fatalf("the tracker did not answer the dial-backs unreachable:\n%s", body)
	}
}

func TestReachabilityUnknownWhenTrackerSkips(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t, trackertest.WithConfig(func(c *server.Config) { c.DisableDialback = true }))
	listen := reservePort(t)
	peerListener(t, listen)
	p, _ := reachPresence(t, tr, listen, nil)
	running(t, p)
	waitFor(t, "registered", func() bool { return p.Status().Registered })
	if r := p.Status().Reachable; r != Unknown {
		t.Fatalf("Reachable = %v from a tracker that does not dial back", r)
	}
}

// The rule: ask on the first announce, after the observed address changed,
// after a recheck (Kick), after an answer that said nothing, and otherwise
// once the last answer is DialbackInterval old.
func TestDialbackDue(t *testing.T) {
	now := time.Unix(1000, 0)
	a := netip.MustParseAddrPort("198.51.100.1:7171")
	b := netip.MustParseAddrPort("198.51.100.1:40000")
	r := reach{interval: 5 * time.Minute}
	if !r.due(netip.AddrPort{}, now) {
		t.Fatal("not due before the first announce")
	}
	if got := r.answer(client.Announce{Observed: a, Dialback: client.DialbackSkipped}, now); got != Unknown || !r.due(a, now) {
		t.Fatalf("after a skipped answer: %v, due %v", got, r.due(a, now))
	}
	if got := r.answer(client.Announce{Observed: a, Dialback: client.DialbackReachable}, now); got != Reachable {
		t.Fatalf("answer %v", got)
	}
	for _, c := range []struct {
		observed netip.AddrPort
		after    time.Duration
		want     bool
	}{
		{a, time.Second, false},
		{a, 5*time.Minute - time.Second, false},
		{a, 5 * time.Minute, true},
		{b, time.Second, true},
	} {
		if got := r.due(c.observed, now.Add(c.after)); got != c.want {
			t.Errorf("observed %v after %v: due %v, want %v", c.observed, c.after, got, c.want)
		}
	}
	r.recheck()
	if !r.due(a, now.Add(time.Second)) {
		t.Error("not due after recheck")
	}
}
