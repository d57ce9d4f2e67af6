// Package demo is `make demo-nat`: alice and bob behind two home routers of
// a natlab lab, with a tracker and a chat-relay on the lab's internet and
// port mapping off, all run from the real binaries. It shows the first
// message going through the relay at once and the path moving to punched
// (cone NATs) or staying relayed (symmetric NATs), then stays up for the
// user to talk until its context ends, and always tears everything down:
// the processes it started, by PID, the lab's namespaces and its directory.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/p2pchat/p2pchat/internal/natlab"
)

// Config says what to run and where.
type Config struct {
	Bin  string         // directory holding chat-tracker, chat-relay, chatd and chatctl
	Dir  string         // state directory: made by Run, removed when it returns
	NAT  natlab.NATMode // both home routers' NAT
	Once bool           // return once the path is shown instead of waiting for ctx
	// Hold is how long the relayed path is watched with symmetric NATs.
	Hold time.Duration
	// ShowBin and ShowDir name Bin and Dir in the commands printed for the
	// user (relative to where they run it); empty: Bin and Dir.
	ShowBin, ShowDir string
}

const (
	trackerPort  = 7070
	relayPort    = 7072
	peerPort     = 7171
	pollInterval = 100 * time.Millisecond
	setupLimit   = 20 * time.Second // for registration and reservations
	punchLimit   = 20 * time.Second // for the path to leave the relay
	pidFile      = "natdemo.pid"    // marks Dir as a demo's and says whose
)

var (
	binaries  = []string{"chat-tracker", "chat-relay", "chatd", "chatctl"}
	relayAddr = regexp.MustCompile(`relay://[^\s"]+`)
)

type demo struct {
	c   Config
	out io.Writer
	t0  time.Time

	ownDir       bool // Dir is this demo's: teardown removes it
	lab          *natlab.Lab
	procs        []*proc // in the order started
	alice, bob   *user
	relay        string // relay://HOST:PORT/KEY
	routers      [2]*natlab.Router
	hosts        [2]*natlab.Host // alice's, bob's
	tracker, rly *natlab.Host
	watch        *pathWatch // from show, for stay
}

// Run runs the demo. It returns nil when ctx ends after the demo was shown
// (or, with Once, right after it), and tears down whatever it started
// before it returns.
func Run(ctx context.Context, c Config, out io.Writer) (err error) {
	if c.ShowBin == "" {
		c.ShowBin = c.Bin
	}
	if c.ShowDir == "" {
		c.ShowDir = c.Dir
	}
	d := &demo{c: c, out: out, t0: time.Now()}
	if err := d.check(); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.teardown()) }()
	if err := d.prepareDir(); err != nil {
		return err
	}
	if err := d.setup(ctx); err != nil {
		return err
	}
	if err := d.show(ctx); err != nil {
		return err
	}
	if c.Once {
		return nil
	}
	return d.stay(ctx)
}

// check refuses to start, with a hint, when the demo cannot run here.
func (d *demo) check() error {
	if err := natlab.Check(); err != nil {
		hint := "install them: apt install iproute2 iptables conntrack"
		if os.Geteuid() != 0 {
			hint = "run it as root: sudo make demo-nat"
		}
		return fmt.Errorf("%v; hint: %s", err, hint)
	}
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(d.c.Bin, b)); err != nil {
			return fmt.Errorf("%s not found; hint: run 'make build' first", filepath.Join(d.c.ShowBin, b))
		}
	}
	if sock := filepath.Join(d.c.Dir, "alice.sock"); len(sock) >= 108 {
		return fmt.Errorf("socket path %s is too long for a Unix socket (108 bytes); hint: set DEMO_NAT_DIR to a shorter directory", sock)
	}
	return nil
}

// prepareDir makes Dir, replacing one a demo that no longer runs left.
func (d *demo) prepareDir() error {
	b, err := os.ReadFile(filepath.Join(d.c.Dir, pidFile))
	switch {
	case err == nil:
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "natdemo" {
			return fmt.Errorf("a demo-nat is already running (pid %d) in %s; hint: stop it with Ctrl-C in its terminal", pid, d.c.ShowDir)
		}
		if err := os.RemoveAll(d.c.Dir); err != nil {
			return err
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	default:
		if entries, err := os.ReadDir(d.c.Dir); err == nil && len(entries) > 0 {
			return fmt.Errorf("%s exists and is not a demo-nat directory; hint: remove it or set DEMO_NAT_DIR", d.c.ShowDir)
		}
	}
	if err := os.MkdirAll(filepath.Join(d.c.Dir, "lab"), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(d.c.Dir, 0o700); err != nil {
		return err
	}
	d.ownDir = true
	return os.WriteFile(filepath.Join(d.c.Dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// say prints a line stamped with the time since the demo started.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "[%6.2fs] %s\n", time.Since(d.t0).Seconds(), fmt.Sprintf(format, args...))
}

// teardown stops the processes, last started first, closes the lab and
// removes Dir.
func (d *demo) teardown() error {
	if d.watch != nil {
		d.watch.close() // before the daemons go: the watcher would redial
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	// The daemons together, then the relay and the tracker.
	stopAll := func(ps []*proc) {
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if len(d.procs) > 2 {
		stopAll(d.procs[2:])
	}
	stopAll(d.procs[:min(2, len(d.procs))])
	if d.lab != nil {
		errs = append(errs, d.lab.Close())
	}
	if d.ownDir {
		errs = append(errs, os.RemoveAll(d.c.Dir))
	}
	err := errors.Join(errs...)
	if err == nil && d.lab != nil {
		d.say("stopped %d processes, removed the lab's namespaces and %s", len(d.procs), d.c.ShowDir)
	}
	return err
}

// setup builds the lab and starts the tracker, the relay and both daemons,
// and waits until each daemon is registered and holds a relay reservation.
func (d *demo) setup(ctx context.Context) error {
	d.say("building the lab: an internet (11.0.0.0/16) with a tracker and a relay, two home routers (%s NAT, port mapping off), IPv4 only", d.c.NAT)
	lab, err := natlab.Build(natlab.Options{Dir: filepath.Join(d.c.Dir, "lab")}, func(l *natlab.Lab) {
		d.tracker = l.AddPublicHost("tracker")
		d.rly = l.AddPublicHost("relay")
		for i, name := range []string{"alice", "bob"} {
			d.routers[i] = l.AddRouter("home-"+name, natlab.RouterOptions{NAT: d.c.NAT})
			d.hosts[i] = d.routers[i].AddHost(name)
		}
	})
	if err != nil {
		return err
	}
	d.lab = lab
	for _, h := range d.hosts {
		if err := ipv4Only(h); err != nil {
			return err
		}
	}
	if err := d.startServers(ctx); err != nil {
		return err
	}
	if err := d.startDaemons(); err != nil {
		return err
	}
	for _, u := range []*user{d.alice, d.bob} {
		err := d.waitFor(ctx, u, "registration and relay reservation", setupLimit, func(st status) bool {
			return st.TrackerState == "registered" && st.Relay.State == "reserved"
		})
		if err != nil {
			return err
		}
	}
	d.say("alice and bob are registered; neither can be dialled, so each holds a reservation on the relay")
	return nil
}

// ipv4Only removes h's global IPv6 addresses. The lab routes IPv6 without
// NAT, and a simultaneous open crosses two stateful firewalls whatever the
// routers' IPv4 NAT, so with IPv6 the demo would show nothing of the NATs.
func ipv4Only(h *natlab.Host) error {
	out, err := exec.Command("ip", "-n", h.Namespace(), "-6", "addr", "flush", "dev", "eth0", "scope", "global").CombinedOutput()
	if err != nil {
		return fmt.Errorf("remove %s's IPv6 addresses: %w: %s", h.Name(), err, bytes.TrimSpace(out))
	}
	return nil
}

func (d *demo) bin(name string) string  { return filepath.Join(d.c.Bin, name) }
func (d *demo) file(name string) string { return filepath.Join(d.c.Dir, name) }

// startServers runs chat-tracker and chat-relay on their public hosts and
// learns the relay's address from its log.
func (d *demo) startServers(ctx context.Context) error {
	if err := os.WriteFile(d.file("tracker.toml"), []byte("rate_limit = 1000.0\nrate_burst = 1000\n"), 0o600); err != nil {
		return err
	}
	taddr := netip.AddrPortFrom(d.tracker.Addr(), trackerPort).String()
	tp, err := d.start(d.tracker, "chat-tracker", "tracker.log", "--config", d.file("tracker.toml"),
		"--listen", taddr, "--db", d.file("tracker.db"), "--log-format", "console")
	if err != nil {
		return err
	}
	d.say("chat-tracker on %s (pid %d)", taddr, tp.pid())
	raddr := netip.AddrPortFrom(d.rly.Addr(), relayPort).String()
	rp, err := d.start(d.rly, "chat-relay", "relay.log", "--listen", raddr, "--public-addr", raddr,
		"--key", d.file("relay.key"), "--metrics-listen", "", "--log-format", "console")
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(setupLimit); d.relay == ""; {
		if err := d.exited(); err != nil {
			return err
		}
		b, _ := os.ReadFile(rp.log)
		if d.relay = relayAddr.FindString(string(b)); d.relay != "" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chat-relay printed no address after %v; see %s", setupLimit, rp.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
	d.say("chat-relay on %s (pid %d): %s", raddr, rp.pid(), d.relay)
	return nil
}

// chatdConfig: short timers, so the demo takes seconds; no port mapping,
// so only the relay and hole punching can join the two.
const chatdConfig = `log_format = "console"
[presence]
check_interval = "200ms"
observe_interval = "1s"
backoff_max = "300ms"
[peer]
keepalive = "1s"
backoff_min = "20ms"
backoff_max = "300ms"
[portmap]
enabled = false
[relay]
servers = [%q]
`

func (d *demo) startDaemons() error {
	if err := os.WriteFile(d.file("chatd.toml"), fmt.Appendf(nil, chatdConfig, d.relay), 0o600); err != nil {
		return err
	}
	tracker := "http://" + netip.AddrPortFrom(d.tracker.Addr(), trackerPort).String()
	users := make([]*user, 2)
	for i, name := range []string{"alice", "bob"} {
		u := &user{name: name, sock: d.file(name + ".sock"), chatctl: d.bin("chatctl")}
		p, err := d.start(d.hosts[i], "chatd "+name, name+".log", "--config", d.file("chatd.toml"),
			"--name", name, "--tracker", tracker, "--listen", fmt.Sprintf("0.0.0.0:%d", peerPort),
			"--data-dir", d.file(name), "--control-socket", u.sock)
		if err != nil {
			return err
		}
		u.chatd = p
		users[i] = u
		d.say("chatd %s on %s behind %s (public address %s) (pid %d)", name, d.hosts[i].Addr(), d.routers[i].Name(), d.routers[i].WAN(), p.pid())
	}
	d.alice, d.bob = users[0], users[1]
	return nil
}

// start runs one of the binaries on h, logging to Dir/logName.
func (d *demo) start(h *natlab.Host, name, logName string, args ...string) (*proc, error) {
	p, err := start(h, name, d.file(logName), d.bin(strings.Fields(name)[0]), args...)
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, p)
	return p, nil
}

// exited returns an error for the first process that has ended, or nil.
func (d *demo) exited() error {
	for _, p := range d.procs {
		if p.exited() {
			return p.exitError()
		}
	}
	return nil
}

// waitFor polls u's status until cond holds, a process exits, ctx ends or
// limit passes.
func (d *demo) waitFor(ctx context.Context, u *user, what string, limit time.Duration, cond func(status) bool) error {
	deadline := time.Now().Add(limit)
	for {
		if err := d.exited(); err != nil {
			return err
		}
		if st, err := u.status(ctx); err == nil && cond(st) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s after %v; see %s", u.name, what, limit, u.chatd.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}
