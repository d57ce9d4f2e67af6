package natlab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

func TestMasquerade(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	server := lab.AddPublicHost("server")
	cone := lab.AddRouter("cone", RouterOptions{NAT: Cone})
	sym := lab.AddRouter("sym", RouterOptions{NAT: Symmetric})
	alice, bob := cone.AddHost("alice"), sym.AddHost("bob")
	ln := listen(t, server, "tcp4", ":7000")
	to := netip.AddrPortFrom(server.Addr(), 7000).String()

	local, seen := dialAndSee(t, alice, ln, to)
	if seen.Addr() != cone.WAN() {
		t.Errorf("cone NAT: server saw %v, want the router's WAN address %v", seen, cone.WAN())
	}
	if seen.Port() != local.Port() {
		t.Errorf("cone NAT: server saw port %d, want the LAN host's port %d kept", seen.Port(), local.Port())
	}

	// Two connections, so that a random port equal to the source port
	// by chance cannot fail the test.
	kept := 0
	for range 2 {
		local, seen := dialAndSee(t, bob, ln, to)
		if seen.Addr() != sym.WAN() {
			t.Errorf("symmetric NAT: server saw %v, want the router's WAN address %v", seen, sym.WAN())
		}
		if seen.Port() == local.Port() {
			kept++
		}
	}
	if kept == 2 {
		t.Error("symmetric NAT kept the source port of both connections")
	}
}

func TestUnsolicitedInbound(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	outsider := lab.AddPublicHost("outsider")
	dropping := lab.AddRouter("drop", RouterOptions{})
	rejecting := lab.AddRouter("reject", RouterOptions{RejectInbound: true})
	for _, r := range []*Router{dropping, rejecting} {
		// Something listens behind the router, on the port tried.
		listen(t, r.AddHost("h-"+r.Name()), "tcp4", ":7000")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := outsider.Dial(ctx, "tcp4", netip.AddrPortFrom(dropping.WAN(), 7000).String())
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("dropping router: unsolicited dial: %v, want a timeout", err)
	}
	_, err = outsider.Dial(context.Background(), "tcp4", netip.AddrPortFrom(rejecting.WAN(), 7000).String())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("rejecting router: unsolicited dial: %v, want connection refused", err)
	}
}

func TestNATPMPExternalAddress(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	server := lab.AddPublicHost("server")
	r := lab.AddRouter("home", RouterOptions{PMP: true})
	h := r.AddHost("alice")

	if got, _ := pmpExternalAddr(t, h); got != r.WAN() {
		t.Fatalf("NAT-PMP external address %v, want %v", got, r.WAN())
	}
	old, renumbered := r.WAN(), lab.NextPublicAddr()
	if err := r.SetWANAddr(renumbered); err != nil {
		t.Fatal(err)
	}
	if r.WAN() != renumbered || renumbered == old {
		t.Fatalf("WAN() = %v after SetWANAddr(%v) from %v", r.WAN(), renumbered, old)
	}
	if got, _ := pmpExternalAddr(t, h); got != renumbered {
		t.Fatalf("NAT-PMP external address after SetWANAddr: %v, want %v", got, renumbered)
	}
	ln := listen(t, server, "tcp4", ":7000")
	if _, seen := dialAndSee(t, h, ln, netip.AddrPortFrom(server.Addr(), 7000).String()); seen.Addr() != renumbered {
		t.Fatalf("after SetWANAddr the server saw %v, want %v", seen, renumbered)
	}
}

func TestSSDPAndRootDescription(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	r := lab.AddRouter("home", RouterOptions{UPnP: true})
	h := r.AddHost("alice")

	pc, err := h.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	search := "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n" +
		"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n"
	answer := exchange(t, pc, netip.AddrPortFrom(r.LANAddr(), 1900), []byte(search))
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), nil)
	if err != nil {
		t.Fatalf("SSDP answer %q: %v", answer, err)
	}
	location := resp.Header.Get("Location")
	want := fmt.Sprintf("http://%v:%d/", r.LANAddr(), GatewayHTTPPort)
	if !strings.HasPrefix(location, want) {
		t.Fatalf("SSDP LOCATION %q, want one under %s", location, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", location, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", location, res.Status, err)
	}
	if !bytes.Contains(body, []byte("urn:schemas-upnp-org:device:InternetGatewayDevice")) {
		t.Fatalf("root description has no InternetGatewayDevice:\n%s", body)
	}
}

func TestNATPMPMapping(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	outsider := lab.AddPublicHost("outsider")
	r := lab.AddRouter("home", RouterOptions{PMP: true, RejectInbound: true}) // refusals are quick
	h := r.AddHost("alice")
	ln := listen(t, h, "tcp4", ":0")
	internal := netip.AddrPortFrom(h.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port))

	ext := pmpMapTCP(t, h, internal.Port(), 3600)
	want := Redirect{Proto: "tcp", ExternalPort: ext, Internal: internal}
	rs, err := r.Redirects()
	if err != nil || len(rs) != 1 || rs[0] != want {
		t.Fatalf("Redirects() = %v, %v; want [%v]", rs, err, want)
	}
	through := netip.AddrPortFrom(r.WAN(), ext).String()
	if _, seen := dialAndSee(t, outsider, ln, through); seen.Addr() != outsider.Addr() {
		t.Errorf("through the mapping the LAN host saw %v, want the outsider %v", seen, outsider.Addr())
	}

	if err := r.RestartGateway(false); err != nil {
		t.Fatal(err)
	}
	if rs, err := r.Redirects(); err != nil || len(rs) != 1 || rs[0] != want {
		t.Fatalf("after a restart Redirects() = %v, %v; want [%v] kept", rs, err, want)
	}
	// Clients notice a reboot by the epoch going back: wait until it can.
	var before uint32
	for before == 0 {
		time.Sleep(200 * time.Millisecond)
		_, before = pmpExternalAddr(t, h)
	}
	if err := r.RestartGateway(true); err != nil {
		t.Fatal(err)
	}
	if rs, err := r.Redirects(); err != nil || len(rs) != 0 {
		t.Fatalf("after a reboot Redirects() = %v, %v; want none", rs, err)
	}
	if _, after := pmpExternalAddr(t, h); after >= before {
		t.Errorf("NAT-PMP epoch %d after a reboot, %d before: want it to go back", after, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := outsider.Dial(ctx, "tcp4", through); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("through the mapping after a reboot: %v, want connection refused", err)
	}
}

func TestGatewayStartsAfterACrash(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	r := lab.AddRouter("home", RouterOptions{PMP: true})
	h := r.AddHost("alice")
	r.gwMu.Lock()
	p := r.gw.cur
	r.gwMu.Unlock()
	p.cmd.Process.Kill()
	<-p.done
	if err := r.StartGateway(); err != nil {
		t.Fatalf("StartGateway after miniupnpd died: %v", err)
	}
	if err := r.StartGateway(); err == nil {
		t.Fatal("StartGateway while miniupnpd runs: no error")
	}
	if got, _ := pmpExternalAddr(t, h); got != r.WAN() {
		t.Fatalf("NAT-PMP external address %v, want %v", got, r.WAN())
	}
}

func TestCommandRunsInNamespace(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	lab := New(t)
	h := lab.AddPublicHost("server")
	out, err := h.Command(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "eth0").Output()
	if err != nil || !bytes.Contains(out, []byte(" "+h.Addr().String()+"/")) {
		t.Fatalf("ip addr in the host's namespace: %q, %v; want %v", out, err, h.Addr())
	}
	cmd := h.Command(context.Background(), "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// ip enters the namespace, then execs sleep in the same process.
	var comm []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if comm, _ = os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)); string(comm) != "ip\n" {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if string(comm) != "sleep\n" {
		t.Fatalf("the started PID runs %q, want sleep itself", comm)
	}
}

func TestCleanupLeavesNothing(t *testing.T) {
	skipShort(t)
	leakcheck.Check(t)
	hostIfaces := interfaceNames(t)
	var prefix string
	var pids []int
	var waited chan struct{} // closed once the command has been reaped
	t.Run("lab", func(t *testing.T) {
		lab := New(t)
		prefix = lab.prefix
		r := lab.AddRouter("home", RouterOptions{UPnP: true, PMP: true})
		h := r.AddHost("alice")
		if err := r.RestartGateway(false); err != nil {
			t.Fatal(err)
		}
		cmd := h.Command(context.Background(), "sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waited = make(chan struct{})
		go func() { cmd.Wait(); close(waited) }()
		if now := interfaceNames(t); !reflect.DeepEqual(now, hostIfaces) {
			t.Errorf("the host's namespace has interfaces %v with the lab up, %v before", now, hostIfaces)
		}
		r.gwMu.Lock()
		pids = append([]int{cmd.Process.Pid}, r.gw.pids...)
		r.gwMu.Unlock()
	})
	if waited == nil {
		return // the lab was not built: skipped, or failed already
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the lab did not kill a command still running")
	}
	if len(pids) != 3 {
		t.Fatalf("PIDs %v: want the command's and two miniupnpd's", pids)
	}
	for _, pid := range pids {
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
			t.Errorf("PID %d (%s) is still alive after the lab's cleanup", pid, bytes.TrimSpace(comm))
		}
	}
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("namespace %s is left after the lab's cleanup", e.Name())
		}
	}
}

func TestNewRemovesStaleNamespaces(t *testing.T) {
	skipShort(t)
	if os.Geteuid() != 0 {
		New(t) // skips or fails
	}
	// The PID of a process that has exited, as after a crashed test run.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-1-stale", nsPrefix, dead.Process.Pid)
	if err := ip("netns", "add", stale); err != nil {
		t.Fatal(err)
	}
	defer ip("netns", "delete", stale) // in case New does not
	New(t)
	if _, err := os.Stat(filepath.Join(netnsDir, stale)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale namespace %s is still there (%v)", stale, err)
	}
}

// interfaceNames lists the interfaces of the test's own namespace.
func interfaceNames(t *testing.T) []string {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	return names
}

// listen listens on h and closes the listener when the test ends.
func listen(t *testing.T, h *Host, network, addr string) net.Listener {
	t.Helper()
	ln, err := h.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialAndSee dials to (IPv4 or IPv6) from h and returns the connection's local address
// and the remote address that ln's side saw.
func dialAndSee(t *testing.T, h *Host, ln net.Listener, to string) (local, seen netip.AddrPort) {
	t.Helper()
	accepted := make(chan netip.AddrPort, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- netip.AddrPort{}
			return
		}
		accepted <- c.RemoteAddr().(*net.TCPAddr).AddrPort()
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	network := "tcp4"
	if ap, err := netip.ParseAddrPort(to); err == nil && ap.Addr().Is6() {
		network = "tcp6"
	}
	c, err := h.Dial(ctx, network, to)
	if err != nil {
		ln.Close() // ends the accepting goroutine
		<-accepted
		t.Fatalf("%s dials %s: %v", h.Name(), to, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.TCPAddr).AddrPort(), <-accepted
}

// exchange sends req to dst from pc and returns the answer, retrying as
// NAT-PMP clients do.
func exchange(t *testing.T, pc net.PacketConn, dst netip.AddrPort, req []byte) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	for wait := 250 * time.Millisecond; wait <= 2*time.Second; wait *= 2 {
		if _, err := pc.WriteTo(req, net.UDPAddrFromAddrPort(dst)); err != nil {
			t.Fatal(err)
		}
		pc.SetReadDeadline(time.Now().Add(wait))
		n, _, err := pc.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	t.Fatalf("no answer from %v", dst)
	return nil
}

// pmp sends a NAT-PMP request (RFC 6886) from h to its gateway and checks
// the answer's header.
func pmp(t *testing.T, h *Host, req []byte, size int) []byte {
	t.Helper()
	pc, err := h.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	answer := exchange(t, pc, netip.AddrPortFrom(h.Router().LANAddr(), NATPMPPort), req)
	if len(answer) != size || answer[0] != 0 || answer[1] != 128+req[1] {
		t.Fatalf("NAT-PMP answer % x to opcode %d", answer, req[1])
	}
	if code := binary.BigEndian.Uint16(answer[2:]); code != 0 {
		t.Fatalf("NAT-PMP result code %d to opcode %d", code, req[1])
	}
	return answer
}

// pmpExternalAddr asks for the external address; it also returns the
// gateway's epoch, seconds since it started.
func pmpExternalAddr(t *testing.T, h *Host) (netip.Addr, uint32) {
	t.Helper()
	answer := pmp(t, h, []byte{0, 0}, 12)
	return netip.AddrFrom4([4]byte(answer[8:12])), binary.BigEndian.Uint32(answer[4:])
}

// pmpMapTCP asks for a TCP mapping of port and returns the external port.
func pmpMapTCP(t *testing.T, h *Host, port uint16, lifetime uint32) uint16 {
	t.Helper()
	req := make([]byte, 12)
	req[1] = 2 // map TCP
	binary.BigEndian.PutUint16(req[4:], port)
	binary.BigEndian.PutUint16(req[6:], port)
	binary.BigEndian.PutUint32(req[8:], lifetime)
	answer := pmp(t, h, req, 16)
	if got := binary.BigEndian.Uint16(answer[8:]); got != port {
		t.Fatalf("NAT-PMP mapped internal port %d, asked for %d", got, port)
	}
	return binary.BigEndian.Uint16(answer[10:])
}

// skipShort skips the lab tests (network namespaces, iptables, miniupnpd)
// under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: natlab tests build network namespaces and run routers")
	}
}
