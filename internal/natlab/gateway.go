package natlab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// GatewayHTTPPort is where miniupnpd serves UPnP descriptions and
	// control on the router's LAN address.
	GatewayHTTPPort = 5000
	// NATPMPPort is where miniupnpd answers NAT-PMP and PCP.
	NATPMPPort = 5351

	gatewayStartTimeout = 10 * time.Second
	gatewayStopTimeout  = 5 * time.Second
)

// gateway is one router's miniupnpd: its files and, while it runs, the
// process. A goroutine per run waits for the process and closes done.
type gateway struct {
	r                          *Router
	conf, pid, leases, logPath string

	// The router's gwMu guards these and serializes starts and stops,
	// so that one miniupnpd at most runs per router.
	cur  *gatewayProc // the last process started; nil when stopped
	pids []int        // of every miniupnpd started, for tests
}

type gatewayProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // from Wait, valid after done
}

// exited reports whether the process has ended (crashed, say) and been
// reaped.
func (p *gatewayProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// newGateway writes the configuration of router number n's miniupnpd.
func newGateway(r *Router, n int) *gateway {
	dir := filepath.Join(r.lab.dir, r.name)
	g := &gateway{
		r:       r,
		conf:    filepath.Join(dir, "miniupnpd.conf"),
		pid:     filepath.Join(dir, "miniupnpd.pid"),
		leases:  filepath.Join(dir, "leases"),
		logPath: filepath.Join(dir, "miniupnpd.log"),
	}
	yesno := map[bool]string{true: "yes", false: "no"}
	conf := []string{
		"ext_ifname=wan0",
		"listening_ip=lan0",
		fmt.Sprintf("http_port=%d", GatewayHTTPPort),
		"enable_upnp=" + yesno[r.opts.UPnP],
		"enable_natpmp=" + yesno[r.opts.PMP], // NAT-PMP and PCP
		"ipv6_disable=yes",
		"secure_mode=yes",
		// The daemon's uptime as the NAT-PMP/PCP epoch, so clients see
		// a restart or reboot as the epoch going back.
		"system_uptime=no",
		fmt.Sprintf("uuid=3d3cec3a-8cf0-11e0-98ee-%012x", n*16),
		"lease_file=" + g.leases,
		// Never register with a minissdpd of the host: it would
		// announce the lab's gateway on the host's network.
		"minissdpdsocket=" + filepath.Join(dir, "minissdpd.sock"),
		"min_lifetime=120",
		"max_lifetime=86400",
		fmt.Sprintf("allow 1024-65535 %s 1024-65535", r.lan.Masked()),
		"deny 0-65535 0.0.0.0/0 0-65535",
		"",
	}
	r.lab.must(os.MkdirAll(dir, 0o755))
	r.lab.must(os.WriteFile(g.conf, []byte(strings.Join(conf, "\n")), 0o644))
	return g
}

// StartGateway starts miniupnpd, with the router's options, and waits until
// it listens. It is an error without UPnP and PMP, or when it runs already;
// starting it again after it died of itself is not.
func (r *Router) StartGateway() error {
	if r.gw == nil {
		return fmt.Errorf("natlab: router %s has no gateway (neither UPnP nor PMP)", r.name)
	}
	r.gwMu.Lock()
	defer r.gwMu.Unlock()
	if r.gw.cur != nil && !r.gw.cur.exited() {
		return fmt.Errorf("natlab: router %s: miniupnpd runs already", r.name)
	}
	return r.gw.startLocked()
}

// StopGateway stops miniupnpd, SIGTERM first, then SIGKILL. Stopping a
// stopped gateway, or a router without one, does nothing. The port
// mappings stay in iptables and in the lease file, as after a daemon crash.
func (r *Router) StopGateway() error {
	if r.gw == nil {
		return nil
	}
	r.gwMu.Lock()
	defer r.gwMu.Unlock()
	return r.gw.stopLocked()
}

// RestartGateway stops and starts miniupnpd. It reloads its mappings from
// the lease file; with reboot, as in a router that rebooted, the mappings,
// the lease file and all tracked connections are gone first.
func (r *Router) RestartGateway(reboot bool) error {
	if r.gw == nil {
		return fmt.Errorf("natlab: router %s has no gateway (neither UPnP nor PMP)", r.name)
	}
	r.gwMu.Lock()
	defer r.gwMu.Unlock()
	if err := r.gw.stopLocked(); err != nil {
		return err
	}
	if reboot {
		if err := r.forgetMappings(); err != nil {
			return err
		}
	}
	return r.gw.startLocked()
}

// forgetMappings empties the chains miniupnpd fills, removes its lease file
// and flushes conntrack.
func (r *Router) forgetMappings() error {
	for _, c := range [][2]string{{"nat", "MINIUPNPD"}, {"nat", "MINIUPNPD-POSTROUTING"}, {"filter", "MINIUPNPD"}, {"mangle", "MINIUPNPD"}} {
		if err := inNS(r.ns, nil, "iptables-legacy", "-w", "-t", c[0], "-F", c[1]); err != nil {
			return fmt.Errorf("natlab: router %s: %w", r.name, err)
		}
	}
	if err := os.Remove(r.gw.leases); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("natlab: router %s: %w", r.name, err)
	}
	return r.flushConntrack()
}

// GatewayLog returns everything miniupnpd logged on this router, across
// restarts, or "" without a gateway.
func (r *Router) GatewayLog() string {
	if r.gw == nil {
		return ""
	}
	b, err := os.ReadFile(r.gw.logPath)
	if err != nil {
		return fmt.Sprintf("(reading the log: %v)", err)
	}
	return string(b)
}

func (g *gateway) startLocked() error {
	log, err := os.OpenFile(g.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own copy
	fi, err := log.Stat()
	if err != nil {
		return err
	}
	from := fi.Size()
	cmd := exec.Command("ip", "netns", "exec", g.r.ns, "miniupnpd", "-d", "-f", g.conf, "-P", g.pid)
	cmd.Stdout, cmd.Stderr = log, log
	// Dies with the test binary instead of outliving a crashed run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("natlab: router %s: start miniupnpd: %w", g.r.name, err)
	}
	p := &gatewayProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	g.cur = p
	g.pids = append(g.pids, cmd.Process.Pid)
	if err := g.waitReady(p, from); err != nil {
		g.stopLocked()
		return fmt.Errorf("natlab: router %s: %w\n%s", g.r.name, err, g.r.GatewayLog())
	}
	return nil
}

// waitReady waits until miniupnpd has logged that its sockets listen: the
// lines it prints after binding them.
func (g *gateway) waitReady(p *gatewayProc, from int64) error {
	var want []string
	if g.r.opts.UPnP {
		want = append(want, fmt.Sprintf("HTTP listening on port %d", GatewayHTTPPort))
	}
	if g.r.opts.PMP {
		want = append(want, "Listening for NAT-PMP/PCP traffic")
	}
	deadline := time.Now().Add(gatewayStartTimeout)
	for {
		b, _ := os.ReadFile(g.logPath)
		if int64(len(b)) >= from && containsAll(b[from:], want) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("miniupnpd exited at start: %v", p.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("miniupnpd did not listen within %v", gatewayStartTimeout)
		}
	}
}

func containsAll(b []byte, subs []string) bool {
	for _, s := range subs {
		if !bytes.Contains(b, []byte(s)) {
			return false
		}
	}
	return true
}

func (g *gateway) stopLocked() error {
	p := g.cur
	if p == nil {
		return nil
	}
	g.cur = nil
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(gatewayStopTimeout):
	}
	p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("natlab: router %s: miniupnpd ignored SIGTERM for %v; killed", g.r.name, gatewayStopTimeout)
}
