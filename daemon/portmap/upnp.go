package portmap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/huin/goupnp"
	"github.com/huin/goupnp/dcps/internetgateway2"
	"github.com/huin/goupnp/soap"
)

// UPnP IGD error codes chatd acts on.
const (
	upnpInvalidArgs        = 402
	upnpNoSuchEntry        = 714
	upnpArrayIndexInvalid  = 713
	upnpConflict           = 718
	upnpOnlyPermanentLease = 725
)

const (
	ssdpPort      = 1900
	ssdpMulticast = "239.255.255.250:1900"
	igdTarget     = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
	// maxReclaimScan bounds the walk over the gateway's mapping table that
	// looks for a mapping a crashed chatd left.
	maxReclaimScan = 128
	randomPorts    = 3
)

// igdClient is what chatd uses of WANIPConnection2, WANIPConnection1 and
// WANPPPConnection1, which goupnp generates as three types.
type igdClient interface {
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
	GetStatusInfoCtx(ctx context.Context) (status, lastErr string, uptime uint32, err error)
	AddPortMappingCtx(ctx context.Context, remoteHost string, extPort uint16, proto string, intPort uint16, intClient string, enabled bool, desc string, lease uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, extPort uint16, proto string) error
	GetSpecificPortMappingEntryCtx(ctx context.Context, remoteHost string, extPort uint16, proto string) (intPort uint16, intClient string, enabled bool, desc string, lease uint32, err error)
	GetGenericPortMappingEntryCtx(ctx context.Context, index uint16) (remoteHost string, extPort uint16, proto string, intPort uint16, intClient string, enabled bool, desc string, lease uint32, err error)
	GetServiceClient() *goupnp.ServiceClient
}

// anyPortMapper is WANIPConnection2's extra: the gateway picks a free port.
type anyPortMapper interface {
	AddAnyPortMappingCtx(ctx context.Context, remoteHost string, extPort uint16, proto string, intPort uint16, intClient string, enabled bool, desc string, lease uint32) (uint16, error)
}

// upnpGateway maps ports through one IGD connection service.
type upnpGateway struct {
	c         igdClient
	kind      string // e.g. "WANIPConnection:2", for the log
	host      string // the gateway's control URL host
	desc      string
	leaseFor  time.Duration // asked for, unless permanent
	permanent bool          // the gateway refused leases with an expiry (725 or 402)
	reclaimed bool          // the table has been searched for a mapping a crash left
	transport *http.Transport
}

func (g *upnpGateway) method() string { return MethodUPnP }
func (g *upnpGateway) addr() string   { return g.host }
func (g *upnpGateway) close()         { g.transport.CloseIdleConnections() }

// upnpCode is the UPnP error code of a SOAP fault, or 0.
func upnpCode(err error) int {
	var f *soap.SOAPFaultError
	if errors.As(err, &f) {
		return f.Detail.UPnPError.Errorcode
	}
	return 0
}

// soapError makes goupnp's fault text (which embeds raw XML) short.
func soapError(op string, err error) error {
	var f *soap.SOAPFaultError
	if errors.As(err, &f) {
		return &upnpError{op: op, code: f.Detail.UPnPError.Errorcode, desc: f.Detail.UPnPError.ErrorDescription, err: err}
	}
	return fmt.Errorf("upnp %s: %w", op, err)
}

// upnpError is a SOAP fault from the gateway.
type upnpError struct {
	op   string
	code int
	desc string
	err  error
}

func (e *upnpError) Error() string {
	return fmt.Sprintf("upnp %s: error %d (%s)", e.op, e.code, e.desc)
}
func (e *upnpError) Unwrap() error { return e.err }

func (g *upnpGateway) externalAddr(ctx context.Context) (netip.Addr, error) {
	s, err := g.c.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return netip.Addr{}, soapError("GetExternalIPAddress", err)
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("upnp GetExternalIPAddress: gateway answered %q, not an address", s)
	}
	return a.Unmap(), nil
}

func (g *upnpGateway) lease() uint32 {
	if g.permanent {
		return 0
	}
	return uint32(g.leaseFor / time.Second)
}

// add asks for one external port. On 725 or 402 with a lease it retries
// with lease 0 and remembers that this gateway wants permanent mappings.
func (g *upnpGateway) add(ctx context.Context, internal netip.AddrPort, port uint16) error {
	err := g.c.AddPortMappingCtx(ctx, "", port, "TCP", internal.Port(), internal.Addr().String(), true, g.desc, g.lease())
	if c := upnpCode(err); !g.permanent && (c == upnpOnlyPermanentLease || c == upnpInvalidArgs) {
		g.permanent = true
		err = g.c.AddPortMappingCtx(ctx, "", port, "TCP", internal.Port(), internal.Addr().String(), true, g.desc, 0)
	}
	if err != nil {
		return soapError("AddPortMapping", err)
	}
	return nil
}

// mapPort tries, in order: a mapping a crashed chatd left, each port of
// prefer, AddAnyPortMapping (IGD2), then a few random ports; a conflict
// (718) moves on to the next, any other error stops.
func (g *upnpGateway) mapPort(ctx context.Context, internal netip.AddrPort, prefer []uint16, ext netip.Addr) (Mapping, error) {
	if !g.reclaimed {
		if p, ok := g.reclaim(ctx, internal); ok {
			prefer = append([]uint16{p}, prefer...)
		}
		g.reclaimed = true
	}
	done := func(port uint16) (Mapping, error) {
		m := Mapping{Internal: internal, External: netip.AddrPortFrom(ext, port), Permanent: g.permanent}
		if !g.permanent {
			m.Lifetime = g.leaseFor
			m.Expires = time.Now().Add(g.leaseFor)
		}
		return m, nil
	}
	var err error
	for _, p := range prefer {
		if err = g.add(ctx, internal, p); err == nil {
			return done(p)
		}
		if upnpCode(err) != upnpConflict {
			return Mapping{}, err
		}
	}
	if any, ok := g.c.(anyPortMapper); ok {
		p, aerr := any.AddAnyPortMappingCtx(ctx, "", prefer[0], "TCP", internal.Port(), internal.Addr().String(), true, g.desc, g.lease())
		if aerr == nil && p != 0 {
			return done(p)
		}
		if c := upnpCode(aerr); c != 0 && c != upnpConflict && c != 401 { // 401: no such action
			return Mapping{}, soapError("AddAnyPortMapping", aerr)
		}
	}
	for range randomPorts {
		p := uint16(1024 + rand.N(65535-1024))
		if err = g.add(ctx, internal, p); err == nil {
			return done(p)
		}
		if upnpCode(err) != upnpConflict {
			return Mapping{}, err
		}
	}
	return Mapping{}, fmt.Errorf("no free external port: %w", err)
}

// reclaim looks through the gateway's table for TCP mappings to internal
// with our description, left by a chatd that did not delete them. It keeps
// the first one's port and deletes any others.
func (g *upnpGateway) reclaim(ctx context.Context, internal netip.AddrPort) (uint16, bool) {
	var found uint16
	for i := range uint16(maxReclaimScan) {
		_, ext, proto, iport, client, _, desc, _, err := g.c.GetGenericPortMappingEntryCtx(ctx, i)
		if err != nil {
			break // 713 ends the table; anything else ends the search too
		}
		if !strings.EqualFold(proto, "TCP") || iport != internal.Port() || desc != g.desc || client != internal.Addr().String() {
			continue
		}
		if found == 0 {
			found = ext
			continue
		}
		g.c.DeletePortMappingCtx(ctx, "", ext, "TCP")
	}
	return found, found != 0
}

// check asks for the mapping and the external address: it fails when the
// mapping is gone or points elsewhere, or when the address moved.
func (g *upnpGateway) check(ctx context.Context, m Mapping) error {
	iport, client, _, _, _, err := g.c.GetSpecificPortMappingEntryCtx(ctx, "", m.External.Port(), "TCP")
	if upnpCode(err) == upnpNoSuchEntry {
		return errLost
	}
	if err != nil {
		return soapError("GetSpecificPortMappingEntry", err)
	}
	if iport != m.Internal.Port() || client != m.Internal.Addr().String() {
		return fmt.Errorf("%w: port %d now goes to %s:%d", errLost, m.External.Port(), client, iport)
	}
	ext, err := g.externalAddr(ctx)
	if err != nil {
		return err
	}
	return sameExternal(ext, m)
}

func (g *upnpGateway) unmap(ctx context.Context, m Mapping) error {
	if err := g.c.DeletePortMappingCtx(ctx, "", m.External.Port(), "TCP"); err != nil && upnpCode(err) != upnpNoSuchEntry {
		return soapError("DeletePortMapping", err)
	}
	return nil
}

// ssdpSearch sends an M-SEARCH for an IGD to the gateway (unicast) and,
// unless the gateway is on loopback, to the SSDP multicast group, and
// returns the LOCATION of the first answer whose location is on the
// gateway itself. Answers pointing anywhere else are ignored: chatd only
// ever talks UPnP to its default gateway.
func ssdpSearch(ctx context.Context, r route) (*url.URL, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: r.self.AsSlice()})
	if err != nil {
		return nil, fmt.Errorf("ssdp: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	req := []byte("M-SEARCH * HTTP/1.1\r\nHOST: " + ssdpMulticast + "\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: " + igdTarget + "\r\n\r\n")
	dsts := []*net.UDPAddr{net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.gw, ssdpPort))}
	if !r.gw.IsLoopback() {
		m, _ := net.ResolveUDPAddr("udp4", ssdpMulticast)
		dsts = append(dsts, m)
	}
	for _, d := range dsts {
		if _, err := c.WriteToUDP(req, d); err != nil {
			return nil, fmt.Errorf("ssdp search to %s: %w", d, err)
		}
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil, fmt.Errorf("ssdp: %w", ctxErr(ctx, err))
		}
		loc, err := parseSSDPAnswer(buf[:n])
		if err != nil || from.Addr().Unmap() != r.gw || loc.Hostname() != r.gw.String() {
			continue
		}
		return loc, nil
	}
}

// parseSSDPAnswer reads an M-SEARCH answer and returns its LOCATION when it
// announces an Internet gateway device.
func parseSSDPAnswer(b []byte) (*url.URL, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		return nil, fmt.Errorf("ssdp: malformed answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ssdp: answer status %d", resp.StatusCode)
	}
	st := resp.Header.Get("ST")
	if !strings.Contains(st, "InternetGatewayDevice") && !strings.Contains(st, "WANIPConnection") &&
		!strings.Contains(st, "WANPPPConnection") && st != "upnp:rootdevice" {
		return nil, fmt.Errorf("ssdp: answer for %q, not a gateway", st)
	}
	loc, err := url.Parse(resp.Header.Get("LOCATION"))
	if err != nil || loc.Scheme != "http" || loc.Host == "" {
		return nil, fmt.Errorf("ssdp: answer without a usable LOCATION %q", resp.Header.Get("LOCATION"))
	}
	return loc, nil
}

// maxDescription bounds the root description chatd reads from a gateway.
const maxDescription = 256 << 10

// fetchRoot reads the gateway's root device description with our own
// client (goupnp's uses the process-wide default one).
func fetchRoot(ctx context.Context, hc *http.Client, loc *url.URL) (*goupnp.RootDevice, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch gateway description: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch gateway description %s: %s", loc, resp.Status)
	}
	root := new(goupnp.RootDevice)
	dec := xml.NewDecoder(io.LimitReader(resp.Body, maxDescription))
	dec.DefaultSpace = goupnp.DeviceXMLNamespace
	if err := dec.Decode(root); err != nil {
		return nil, fmt.Errorf("parse gateway description %s: %w", loc, err)
	}
	base := loc
	if root.URLBaseStr != "" {
		if base, err = url.Parse(root.URLBaseStr); err != nil {
			return nil, fmt.Errorf("parse gateway description %s: URLBase: %w", loc, err)
		}
	}
	root.SetURLBase(base)
	return root, nil
}

// upnpClients lists the connection services of root in order of preference: WANIPConnection2, WANIPConnection1,
// WANPPPConnection1. Services whose control URL is not on the gateway are
// left out.
func upnpClients(root *goupnp.RootDevice, loc *url.URL, tr *http.Transport) []*upnpGateway {
	var out []*upnpGateway
	add := func(kind string, c igdClient) {
		sc := c.GetServiceClient()
		if sc.SOAPClient.EndpointURL.Hostname() != loc.Hostname() {
			return
		}
		sc.SOAPClient.HTTPClient = http.Client{Transport: tr}
		out = append(out, &upnpGateway{c: c, kind: kind, host: loc.Hostname(), transport: tr})
	}
	if cs, err := internetgateway2.NewWANIPConnection2ClientsFromRootDevice(root, loc); err == nil {
		for _, c := range cs {
			add("WANIPConnection:2", c)
		}
	}
	if cs, err := internetgateway2.NewWANIPConnection1ClientsFromRootDevice(root, loc); err == nil {
		for _, c := range cs {
			add("WANIPConnection:1", c)
		}
	}
	if cs, err := internetgateway2.NewWANPPPConnection1ClientsFromRootDevice(root, loc); err == nil {
		for _, c := range cs {
			add("WANPPPConnection:1", c)
		}
	}
	return out
}

// probeUPnP finds the gateway's IGD and picks its best connection service:
// connected and with a public external address first, then connected,
// then any, each group in upnpClients' order.
func probeUPnP(ctx context.Context, r route, desc string, lease time.Duration) (gateway, error) {
	loc, err := ssdpSearch(ctx, r)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 5 * time.Second}
	root, err := fetchRoot(ctx, &http.Client{Transport: tr}, loc)
	if err != nil {
		return nil, err
	}
	var best *upnpGateway
	bestScore := -1
	for _, g := range upnpClients(root, loc, tr) {
		g.desc, g.leaseFor = desc, lease
		score := 0
		if status, _, _, err := g.c.GetStatusInfoCtx(ctx); err == nil && status == "Connected" {
			score = 1
			if a, err := g.externalAddr(ctx); err == nil && isPublic(a) {
				score = 2
			}
		}
		if score > bestScore {
			best, bestScore = g, score
		}
	}
	if best == nil {
		return nil, fmt.Errorf("upnp: gateway %s offers no WAN connection service", loc.Host)
	}
	return best, nil
}
