package natlab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Host is a machine in the lab: a public host on the internet or a host on
// a router's LAN. Its methods are safe for concurrent use.
type Host struct {
	lab    *Lab
	name   string
	ns     string
	addr   netip.Addr
	addr6  netip.Addr
	router *Router // nil for a public host
}

// Name is the name the host was added with.
func (h *Host) Name() string { return h.name }

// Addr is the host's address: public, or on its router's LAN.
func (h *Host) Addr() netip.Addr { return h.addr }

// Addr6 is the host's IPv6 address: on the internet, or in its router's
// LAN /64. Both are public (no NAT66); a router's firewall lets in only
// replies to what its LAN sent.
func (h *Host) Addr6() netip.Addr { return h.addr6 }

// Namespace is the name of the host's network namespace, for `ip netns
// exec`.
func (h *Host) Namespace() string { return h.ns }

// Router is the router whose LAN the host is on, or nil for a public host.
func (h *Host) Router() *Router { return h.router }

// Command returns a command that runs name inside the host's namespace.
// `ip netns exec` execs the program, so the started PID is the program's
// own and signals reach it. The caller starts it and must Wait for it; the
// lab kills it, if it still runs, when it is torn down, and the kernel kills
// it if the test binary dies.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	h.lab.mu.Lock()
	h.lab.cmds = append(h.lab.cmds, cmd)
	h.lab.mu.Unlock()
	return cmd
}

// Dial connects to addr, an IP literal with a port, from inside the host's
// namespace.
func (h *Host) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := literal(network, addr); err != nil {
		return nil, err
	}
	var c net.Conn
	err := h.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens on addr, an IP literal or empty host with a port, inside
// the host's namespace.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	if err := literal(network, addr); err != nil {
		return nil, err
	}
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// ListenPacket opens a packet socket on addr, an IP literal or empty host
// with a port, inside the host's namespace.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	if err := literal(network, addr); err != nil {
		return nil, err
	}
	var pc net.PacketConn
	err := h.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// Do runs fn on a thread inside the host's namespace and waits for it.
// Sockets that fn creates itself belong to the namespace and stay there;
// goroutines fn starts run outside it, and so does name resolution that
// happens on them (dial IP literals).
func (h *Host) Do(fn func() error) error { return inNamespace(h.ns, fn) }

// HTTPClient returns a client whose connections are dialled from inside the
// host's namespace. URLs must name hosts by IP address. The lab closes its
// idle connections when it is torn down.
func (h *Host) HTTPClient() *http.Client {
	tr := &http.Transport{
		DialContext:         h.Dial,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     30 * time.Second,
	}
	h.lab.mu.Lock()
	h.lab.transports = append(h.lab.transports, tr)
	h.lab.mu.Unlock()
	return &http.Client{Transport: tr}
}

// literal checks that an IP network address names no host by name: names
// would be resolved on goroutines outside the namespace, and the lab has no
// resolver anyway.
func literal(network, addr string) error {
	if !strings.HasPrefix(network, "tcp") && !strings.HasPrefix(network, "udp") && !strings.HasPrefix(network, "ip") {
		return nil
	}
	host := addr // ip networks take an address without a port
	if !strings.HasPrefix(network, "ip") {
		var err error
		if host, _, err = net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("natlab: %s address %q: %w", network, addr, err)
		}
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("natlab: %s address %q: the lab resolves no names, use an IP address", network, addr)
	}
	return nil
}
