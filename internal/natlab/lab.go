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

const (
	nsPrefix  = "p2pc-"          // every lab namespace's name starts with it
	netnsDir  = "/var/run/netns" // where `ip netns` keeps its names
	inetName  = "inet"           // the internet namespace's node name
	inetBr    = "br0"            // the internet bridge
	firstHost = 10               // offset in internet of the first address handed out
)

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
	for _, tool := range []string{"ip", "iptables-legacy", "iptables-legacy-restore", "conntrack"} {
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
	addr := l.NextPublicAddr()
	l.must(l.attach(ns, "eth0", addr))
	return &Host{lab: l, name: name, ns: ns, addr: addr}
}

// NextPublicAddr hands out an address on the internet that no part of the
// lab uses, for a router's new WAN address (Router.SetWANAddr).
func (l *Lab) NextPublicAddr() netip.Addr {
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
		return netip.AddrFrom4(b)
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
	return ns
}

// attach connects namespace ns to the internet bridge through a veth pair
// whose two ends are created inside lab namespaces, and gives its end,
// ifname, the public address addr.
func (l *Lab) attach(ns, ifname string, addr netip.Addr) error {
	l.mu.Lock()
	l.ports++
	port := fmt.Sprintf("p%d", l.ports)
	l.mu.Unlock()
	return ipAll(
		[]string{"-n", l.inet, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns},
		[]string{"-n", l.inet, "link", "set", port, "master", inetBr, "up"},
		[]string{"-n", ns, "addr", "add", netip.PrefixFrom(addr, internet.Bits()).String(), "dev", ifname},
		[]string{"-n", ns, "link", "set", ifname, "up"},
	)
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
