package presence

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/server"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// running starts p.Run and returns a function that stops it and returns
// Run's result.
func running(t *testing.T, p *Presence) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	var result error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { stop() })
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lookupAddrs(t *testing.T, c *client.Client, name string) []string {
	rec, _, err := c.Lookup(context.Background(), name)
	if err != nil {
		return nil
	}
	return rec.Addrs
}

func TestRegistersSpecificListenAddress(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	p, err := New(Config{
		Name: "alice", Key: newKey(t), Tracker: tr.Client(),
		Listen: netip.MustParseAddrPort("127.0.0.1:7171"),
		// Interfaces must not be consulted for a specific listen address.
		Interfaces: func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("192.0.2.9")}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, p)
	waitFor(t, "registered", func() bool { return p.Status().Registered })
	got := lookupAddrs(t, tr.Client(), "alice")
	// The test's own connection is seen as 127.0.0.1:<ephemeral>; the
	// listen address is published, plus the observed one.
	if !slices.Contains(got, "127.0.0.1:7171") || slices.Contains(got, "192.0.2.9:7171") {
		t.Fatalf("published %v, want the listen address and no interface address", got)
	}
	if !p.Status().Observed.IsValid() {
		t.Fatal("the tracker's observed address was not learned")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v on cancel", err)
	}
}

func TestReannouncesWhenInterfacesChange(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	var mu sync.Mutex
	ifs := []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("fe80::1")}
	p, err := New(Config{
		Name: "alice", Key: newKey(t), Tracker: tr.Client(),
		Listen:        netip.MustParseAddrPort("0.0.0.0:7171"),
		CheckInterval: 50 * time.Millisecond,
		Interfaces: func() ([]netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(ifs), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	running(t, p)
	waitFor(t, "first record", func() bool { return slices.Contains(lookupAddrs(t, tr.Client(), "alice"), "198.51.100.1:7171") })
	if a := lookupAddrs(t, tr.Client(), "alice"); slices.Contains(a, "127.0.0.1:7171") || slices.Contains(a, "[fe80::1]:7171") {
		t.Fatalf("loopback or link-local published: %v", a)
	}
	first := p.Status().Seq
	mu.Lock()
	ifs = []netip.Addr{netip.MustParseAddr("203.0.113.7")}
	mu.Unlock()
	waitFor(t, "new address published", func() bool {
		a := lookupAddrs(t, tr.Client(), "alice")
		return slices.Contains(a, "203.0.113.7:7171") && !slices.Contains(a, "198.51.100.1:7171")
	})
	// The tracker serves the record as soon as it stored it, which can be
	// a moment before the announce's answer reaches Presence.
	waitFor(t, "the re-announce's seq in the status", func() bool {
		st := p.Status()
		return st.Seq > first && st.LastError == ""
	})
	rec, _, err := tr.Client().Lookup(context.Background(), "alice")
	if err != nil || rec.Seq != p.Status().Seq {
		t.Fatalf("tracker has seq %d (%v), status says %d", rec.Seq, err, p.Status().Seq)
	}
}

// A tracker that is down at first: Presence backs off, reports the error,
// and registers once the tracker comes up on the same address.
func TestBacksOffUntilTrackerComesUp(t *testing.T) {
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := client.New("http://"+addr, nil)
	p, err := New(Config{
		Name: "alice", Key: newKey(t), Tracker: c,
		Listen:     netip.MustParseAddrPort("127.0.0.1:7171"),
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	running(t, p)
	waitFor(t, "error reported", func() bool { return p.Status().LastError != "" })
	if p.Status().Registered {
		t.Fatal("registered with no tracker")
	}

	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := server.New(server.DefaultConfig(), st, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %s was taken meanwhile: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	waitFor(t, "registered after the tracker came up", func() bool { return p.Status().Registered && p.Status().LastError == "" })
	if a := lookupAddrs(t, c, "alice"); !slices.Contains(a, "127.0.0.1:7171") {
		t.Fatalf("published %v", a)
	}
}

func TestNameTakenStops(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	owner, err := New(Config{Name: "alice", Key: newKey(t), Tracker: tr.Client(), Listen: netip.MustParseAddrPort("127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	running(t, owner)
	waitFor(t, "owner registered", func() bool { return owner.Status().Registered })

	thief, _ := New(Config{Name: "alice", Key: newKey(t), Tracker: tr.Client(), Listen: netip.MustParseAddrPort("127.0.0.1:2")})
	err = thief.Run(context.Background())
	if !errors.Is(err, ErrNameTaken) {
		t.Fatalf("Run with someone else's name = %v, want ErrNameTaken", err)
	}
	if a := lookupAddrs(t, tr.Client(), "alice"); !slices.Contains(a, "127.0.0.1:1") || slices.Contains(a, "127.0.0.1:2") {
		t.Fatalf("the thief changed the record: %v", a)
	}
}

// A restarted daemon whose clock went backwards continues from the stored
// seq instead of failing forever with stale seqs.
func TestRestartWithClockBehind(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	key := newKey(t)
	first, _ := New(Config{Name: "alice", Key: key, Tracker: tr.Client(), Listen: netip.MustParseAddrPort("127.0.0.1:1")})
	stop := running(t, first)
	waitFor(t, "registered", func() bool { return first.Status().Registered })
	stop()

	behind := func() time.Time { return time.Now().Add(-10 * time.Minute) }
	second, _ := New(Config{Name: "alice", Key: key, Tracker: tr.Client(), Listen: netip.MustParseAddrPort("127.0.0.1:2"), Now: behind})
	running(t, second)
	waitFor(t, "re-announced with the new address", func() bool {
		return slices.Contains(lookupAddrs(t, tr.Client(), "alice"), "127.0.0.1:2")
	})
	rec, _, _ := tr.Client().Lookup(context.Background(), "alice")
	if rec.Seq <= first.Status().Seq {
		t.Fatalf("seq %d not above the earlier %d", rec.Seq, first.Status().Seq)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	if _, err := New(Config{Name: "Alice", Key: newKey(t), Tracker: tr.Client()}); !errors.Is(err, record.ErrBadName) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := New(Config{Name: "alice", Tracker: tr.Client()}); err == nil {
		t.Fatal("missing key accepted")
	}
}

// A tracker that accepts connections and hangs up is retried with backoff,
// not in a tight loop.
func TestBrokenTrackerIsRetriedWithBackoff(t *testing.T) {
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			attempts++
			mu.Unlock()
			c.Close()
		}
	}()
	defer ln.Close()
	p, err := New(Config{
		Name: "alice", Key: newKey(t), Tracker: client.New("http://"+ln.Addr().String(), nil),
		Listen:     netip.MustParseAddrPort("127.0.0.1:7171"),
		BackoffMin: 100 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, p)
	time.Sleep(time.Second)
	stop()
	mu.Lock()
	defer mu.Unlock()
	// About 6 attempts fit in a second at this backoff (each may retry its
	// request once on a fresh connection); a loop without backoff makes
	// hundreds.
	if attempts == 0 || attempts > 30 {
		t.Fatalf("%d connection attempts in 1s with a 100-200ms backoff", attempts)
	}
}

// The router's port mapping is published as soon as the port mapper kicks,
// and withdrawn the same way, without waiting for a check interval.
func TestPublishesMappedAddressOnKick(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	var mu sync.Mutex
	var mapped netip.AddrPort
	p, err := New(Config{
		Name: "alice", Key: newKey(t), Tracker: tr.Client(),
		Listen:        netip.MustParseAddrPort("127.0.0.1:7171"),
		CheckInterval: time.Hour, ObserveInterval: time.Hour,
		Extra: func() []string {
			mu.Lock()
			defer mu.Unlock()
			if !mapped.IsValid() {
				return nil
			}
			return []string{mapped.String(), "relay://198.51.100.30:7272/" + strings.Repeat("A", 43)}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	running(t, p)
	waitFor(t, "registered", func() bool { return p.Status().Registered })
	set := func(a string) {
		mu.Lock()
		mapped = netip.AddrPort{}
		if a != "" {
			mapped = netip.MustParseAddrPort(a)
		}
		mu.Unlock()
		p.Kick()
	}
	set("198.51.100.20:40000")
	waitFor(t, "mapped address published", func() bool {
		return slices.Contains(lookupAddrs(t, tr.Client(), "alice"), "198.51.100.20:40000")
	})
	set("")
	waitFor(t, "mapped address withdrawn", func() bool {
		a := lookupAddrs(t, tr.Client(), "alice")
		return a != nil && !slices.Contains(a, "198.51.100.20:40000")
	})
}

// Listening on the dual-stack wildcard publishes the addresses of both
// families (not loopback or link-local ones); the IPv4 wildcard publishes
// IPv4 alone, since its socket does not accept IPv6.
func TestPublishesBothFamiliesWhenDualStack(t *testing.T) {
	ifs := []netip.Addr{
		netip.MustParseAddr("192.168.1.2"), netip.MustParseAddr("2001:db8:1::2"),
		netip.MustParseAddr("::1"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("127.0.0.1"),
	}
	observed := netip.MustParseAddrPort("11.0.0.12:40000")
	for _, tc := range []struct {
		listen string
		want   []string
	}{
		{"[::]:7171", []string{"11.0.0.12:40000", "192.168.1.2:7171", "[2001:db8:1::2]:7171"}},
		{"0.0.0.0:7171", []string{"11.0.0.12:40000", "192.168.1.2:7171"}},
	} {
		p, err := New(Config{
			Name: "alice", Key: newKey(t), Tracker: client.New("http://127.0.0.1:1", nil),
			Listen:     netip.MustParseAddrPort(tc.listen),
			Interfaces: func() ([]netip.Addr, error) { return ifs, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.addrs(observed); !slices.Equal(got, tc.want) {
			t.Errorf("listening on %s: publishes %v, want %v", tc.listen, got, tc.want)
		}
	}
}
