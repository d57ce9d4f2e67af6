package natlab

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/p2pchat/p2pchat/internal/testenv"
	"golang.org/x/sys/unix"
)

// internet is the lab's public address range. It must not be a reserved
// range: miniupnpd refuses to map when its WAN address is in one.
var internet = netip.MustParsePrefix("11.0.0.0/16")

// internet6 is the lab's public IPv6 segment, and lans6 the range from which
// router N routes the /64 with N in its third group to its LAN. Both are
// documentation space (RFC 3849), harmless here because no packet leaves
// the lab's namespaces; chatd publishes global unicast addresses, which
// these are. Public hosts and WAN interfaces get the host number of their
// IPv4 address (11.0.X.Y becomes 2001:db8::X:Y, in hex).
var (
	internet6 = netip.MustParsePrefix("2001:db8::/64")
	lans6     = netip.MustParsePrefix("2001:db8::/48")
)

const (
	nsPrefix  = "p2pc-"          // every lab namespace's name starts with it
	netnsDir  = "/var/run/netns" // where `ip netns` keeps its names
	inetName  = "inet"           // the internet namespace's node name
	inetBr    = "br0"            // the internet bridge
	firstHost = 10               // offset in internet of the first address handed out
)

// route6 is a router's IPv6 LAN and its WAN address, the next hop to it
// from everywhere on the internet.
type route6 struct {
	lan netip.Prefix
	via netip.Addr
}

// labSeq numbers the labs of one test binary.
var labSeq atomic.Int64

// validName is what node names may look like; they become part of a
// namespace name.
var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Lab is a set of network namespaces forming a small internet. Make one
// with New in a test, or with Build.
type Lab struct {
	t      reporter // the test, or Build's builder
	prefix string   // namespace name prefix: "p2pc-<pid>-<n>-"
	dir    string   // configurations, logs and leases
	ownDir bool     // Build made dir; Close removes it
	inet   string   // the internet namespace

	closeOnce sync.Once
	closeErr  error

	mu         sync.Mutex // guards the fields below
	names      map[string]bool
	namespaces []string // created so far, deleted at cleanup
	nextPublic int      // offset in internet of the next public address
	ports      int      // veth ports on the internet bridge so far
	routers    []*Router
	wan6       []string          // namespaces with an IPv6 address on the internet
	routes6    []route6          // every router's LAN, routed on the internet
	cmds       []*exec.Cmd       // from Host.Command, killed at cleanup
	transports []*http.Transport // from Host.HTTPClient, closed at cleanup
}

// reporter is what building a lab needs from its owner: testing.TB, or
// Build's builder. Fatal and Fatalf must not return.
type reporter interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// New builds an empty lab: the internet namespace with its bridge. It skips
// t (fails it under CI=true) without root or the tools, and registers a
// cleanup that stops every process the lab started, by PID, and deletes
// every namespace it made (Close).
func New(t testing.TB) *Lab {
	t.Helper()
	if err := Check(); err != nil {
		testenv.SkipOrFail(t, err.Error())
	}
	l := newLab(t, t.TempDir())
	t.Cleanup(func() {
		if t.Failed() {
			l.logGateways(t.Logf)
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	l.addInternet()
	return l
}

// Options are the settings of a lab made with Build.
type Options struct {
	// Dir holds the gateways' configurations, leases and logs. Empty:
	// a new temporary directory, which Close removes.
	Dir string
	// Logf receives what the lab has to say that is not an error, such
	// as a stale namespace it could not remove; nil discards it.
	Logf func(format string, args ...any)
}

// Build builds a lab outside a test: an empty lab, as New makes, then what
// add adds with the Add methods, which add must call on Build's goroutine.
// When one of them fails, add stops there (as a test stops at t.Fatal) and
// Build returns the error, having torn down what was built. Otherwise the
// caller owns the lab and must Close it.
func Build(o Options, add func(*Lab)) (*Lab, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	dir, own := o.Dir, false
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "natlab-"); err != nil {
			return nil, fmt.Errorf("natlab: %w", err)
		}
		own = true
	}
	l := newLab(builder{o.Logf}, dir)
	l.ownDir = own
	if err := build(func() { l.addInternet(); add(l) }); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

// Check reports why no lab can be built here (not root, a tool missing),
// with a hint, or returns nil.
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("natlab: needs root for network namespaces and iptables")
	}
	for _, tool := range []string{"ip", "iptables-legacy", "iptables-legacy-restore", "ip6tables-legacy-restore", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("natlab: %s not installed (Debian packages iproute2, iptables, conntrack)", tool)
		}
	}
	return nil
}

// newLab removes stale namespaces and returns an empty lab owned by r.
func newLab(r reporter, dir string) *Lab {
	removeStale(r)
	return &Lab{
		t:          r,
		prefix:     fmt.Sprintf("%s%d-%d-", nsPrefix, os.Getpid(), labSeq.Add(1)),
		dir:        dir,
		names:      map[string]bool{},
		nextPublic: firstHost,
	}
}

// addInternet makes the internet namespace and its bridge.
func (l *Lab) addInternet() {
	l.inet = l.addNamespace(inetName)
	l.must(ip("-n", l.inet, "link", "add", inetBr, "type", "bridge"))
	l.must(ip("-n", l.inet, "link", "set", inetBr, "up"))
}

// AddPublicHost adds a host on the internet with a public address of its
// own.
func (l *Lab) AddPublicHost(name string) *Host {
	l.t.Helper()
	ns := l.addNamespace(name)
	addr, addr6 := l.publicPair()
	l.must(l.attach(ns, "eth0", addr, addr6))
	return &Host{lab: l, name: name, ns: ns, addr: addr, addr6: addr6}
}

// NextPublicAddr hands out an address on the internet that no part of the
// lab uses, for a router's new WAN address (Router.SetWANAddr).
func (l *Lab) NextPublicAddr() netip.Addr {
	l.t.Helper()
	a, _ := l.publicPair()
	return a
}

// publicPair hands out an IPv4 and an IPv6 address on the internet with
// the same host number.
func (l *Lab) publicPair() (netip.Addr, netip.Addr) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		n := l.nextPublic
		l.nextPublic++
		if n >= 1<<(32-internet.Bits()) {
			l.t.Fatal("natlab: out of public addresses")
		}
		if n%256 == 0 || n%256 == 255 {
			continue // legal in a /16, but they look like network and broadcast addresses
		}
		b := internet.Addr().As4()
		b[2], b[3] = byte(n>>8), byte(n)
		b6 := internet6.Addr().As16()
		b6[13], b6[15] = byte(n>>8), byte(n)
		return netip.AddrFrom4(b), netip.AddrFrom16(b6)
	}
}

// addNamespace creates the namespace for the node name, with loopback up.
func (l *Lab) addNamespace(name string) string {
	l.t.Helper()
	if !validName.MatchString(name) {
		l.t.Fatalf("natlab: bad name %q: want lowercase letters, digits and dashes, at most 32", name)
	}
	ns := l.prefix + name
	l.mu.Lock()
	taken := l.names[name]
	l.names[name] = true
	l.mu.Unlock()
	if taken {
		l.t.Fatalf("natlab: the lab already has a node named %q", name)
	}
	l.must(ip("netns", "add", ns))
	l.mu.Lock()
	l.namespaces = append(l.namespaces, ns)
	l.mu.Unlock()
	l.must(ip("-n", ns, "link", "set", "lo", "up"))
	// No duplicate address detection: an IPv6 address is usable the
	// moment it is added (the lab hands out each address once), instead
	// of a second later. Set before any interface exists, so that they
	// inherit it.
	for _, conf := range []string{"all", "default"} {
		l.must(writeSysctl(ns, "net/ipv6/conf/"+conf+"/accept_dad", "0"))
	}
	return ns
}

// attach connects namespace ns to the internet bridge through a veth pair
// whose two ends are created inside lab namespaces, gives its end, ifname,
// the public addresses addr and addr6, and routes every router's IPv6 LAN
// through that router.
func (l *Lab) attach(ns, ifname string, addr, addr6 netip.Addr) error {
	l.mu.Lock()
	l.ports++
	port := fmt.Sprintf("p%d", l.ports)
	l.mu.Unlock()
	err := ipAll(
		[]string{"-n", l.inet, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns},
		[]string{"-n", l.inet, "link", "set", port, "master", inetBr, "up"},
		[]string{"-n", ns, "addr", "add", netip.PrefixFrom(addr, internet.Bits()).String(), "dev", ifname},
		[]string{"-n", ns, "addr", "add", netip.PrefixFrom(addr6, internet6.Bits()).String(), "dev", ifname, "nodad"},
		[]string{"-n", ns, "link", "set", ifname, "up"},
	)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.routes6 {
		if err := ip("-n", ns, "-6", "route", "add", r.lan.String(), "via", r.via.String()); err != nil {
			return err
		}
	}
	l.wan6 = append(l.wan6, ns)
	return nil
}

// addRoute6 routes lan, a router's IPv6 LAN, through its WAN address via on
// everything attached to the internet (but that router, ns), now and later.
func (l *Lab) addRoute6(ns string, lan netip.Prefix, via netip.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, other := range l.wan6 {
		if other == ns {
			continue
		}
		if err := ip("-n", other, "-6", "route", "add", lan.String(), "via", via.String()); err != nil {
			return err
		}
	}
	l.routes6 = append(l.routes6, route6{lan, via})
	return nil
}

// must stops the test when building the lab failed.
func (l *Lab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatalf("natlab: %v", err)
	}
}

// logGateways logs what every gateway logged, for a failed test.
func (l *Lab) logGateways(logf func(format string, args ...any)) {
	l.mu.Lock()
	routers := l.routers
	l.mu.Unlock()
	for _, r := range routers {
		if r.gw != nil {
			logf("natlab: miniupnpd log of router %s:\n%s", r.name, r.GatewayLog())
		}
	}
}

// Close tears the lab down: it kills the processes its hosts' commands
// started, by PID, stops the gateways, and deletes the namespaces, the last
// made first. Calling it again does nothing and returns the same error.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Lab) close() error {
	l.mu.Lock()
	routers, cmds, transports := l.routers, l.cmds, l.transports
	namespaces := l.namespaces
	l.mu.Unlock()
	var errs []error
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	for _, c := range cmds {
		if c.Process != nil {
			c.Process.Kill() // the test owns Wait; the process may be gone already
		}
	}
	for _, r := range routers {
		if err := r.StopGateway(); err != nil {
			errs = append(errs, err) // names the router
		}
	}
	for i := len(namespaces) - 1; i >= 0; i-- {
		if err := ip("netns", "delete", namespaces[i]); err != nil {
			errs = append(errs, fmt.Errorf("natlab: %w", err))
		}
	}
	if l.ownDir {
		errs = append(errs, os.RemoveAll(l.dir))
	}
	return errors.Join(errs...)
}

// removeStale deletes lab namespaces left by test processes that no longer
// exist. It kills nothing: a process still inside one (there should be none,
// they die with the test binary) keeps that namespace alive unnamed.
func removeStale(r reporter) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return // no namespaces at all yet
	}
	for _, e := range entries {
		pid, ok := ownerPID(e.Name())
		if !ok || pid == os.Getpid() || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		if err := ip("netns", "delete", e.Name()); err != nil {
			r.Logf("natlab: removing a stale namespace: %v", err)
		}
	}
}

// ownerPID returns the PID in a lab namespace name.
func ownerPID(ns string) (int, bool) {
	rest, ok := strings.CutPrefix(ns, nsPrefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

// ip runs the ip command.
func ip(args ...string) error { return run(nil, "ip", args...) }

// ipAll runs ip once per argument list, stopping at the first error.
func ipAll(cmds ...[]string) error {
	for _, args := range cmds {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// inNS runs a program inside namespace ns.
func inNS(ns string, stdin []byte, name string, args ...string) error {
	return run(stdin, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// run runs a program to completion; its error carries the output.
func run(stdin []byte, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
