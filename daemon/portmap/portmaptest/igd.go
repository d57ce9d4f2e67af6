// Package portmaptest runs fake home gateways on loopback for portmap's
// tests: an UPnP Internet Gateway Device that answers SSDP searches and
// speaks real SOAP (IGD), and a NAT-PMP/PCP server (PMP). They do what a
// real router (miniupnpd, which e2e runs in network namespaces) cannot be
// made to do on demand: refuse leases with an expiry (725), report a port
// taken by another host (718), fail GetExternalIPAddress, restart with a
// new epoch, or move the external address.
//
// Each fake binds the standard ports (1900, 5351) on its own loopback
// address, 127.0.0.N, so tests give each fake a different N:
//
//	g := portmaptest.NewIGD(t, netip.MustParseAddr("127.0.0.7"), portmaptest.IGDOptions{})
//	g.Take(7171)               // the next AddPortMapping of port 7171 gets 718
//	m := g.Mappings()          // what the gateway holds now
package portmaptest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Entry is one port mapping held by a fake gateway.
type Entry struct {
	ExternalPort uint16
	Protocol     string
	InternalPort uint16
	Client       string
	Description  string
	Lease        uint32 // seconds asked for; 0 = permanent
}

// Service is one WAN connection service the IGD offers.
type Service struct {
	Type       string // e.g. "WANIPConnection:2", "WANIPConnection:1", "WANPPPConnection:1"
	Status     string // GetStatusInfo's answer; "" means "Connected"
	ExternalIP string // "" means IGDOptions.ExternalIP
}

// IGDOptions configures NewIGD.
type IGDOptions struct {
	// Services offered, in the description's order; nil means one
	// WANIPConnection:2.
	Services []Service
	// ExternalIP is what GetExternalIPAddress answers (default 203.0.113.7).
	ExternalIP string
}

// IGD is a fake UPnP Internet Gateway Device.
type IGD struct {
	addr netip.Addr
	ssdp *net.UDPConn
	http *http.Server
	ln   net.Listener
	wg   sync.WaitGroup

	mu            sync.Mutex // guards everything below
	services      []Service
	external      string
	mappings      map[uint16]Entry
	onlyPermanent bool
	taken         map[uint16]bool
	failExternal  bool
	calls         []string
}

// NewIGD starts a fake IGD on addr (SSDP on port 1900, HTTP on a free
// port) and stops it when the test ends.
func NewIGD(t testing.TB, addr netip.Addr, o IGDOptions) *IGD {
	t.Helper()
	if o.Services == nil {
		o.Services = []Service{{Type: "WANIPConnection:2"}}
	}
	if o.ExternalIP == "" {
		o.ExternalIP = "203.0.113.7"
	}
	g := &IGD{addr: addr, services: o.Services, external: o.ExternalIP,
		mappings: map[uint16]Entry{}, taken: map[uint16]bool{}}
	var err error
	if g.ssdp, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 1900))); err != nil {
		t.Fatalf("fake igd: ssdp: %v", err)
	}
	if g.ln, err = net.Listen("tcp4", netip.AddrPortFrom(addr, 0).String()); err != nil {
		g.ssdp.Close()
		t.Fatalf("fake igd: http: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rootDesc.xml", g.serveDescription)
	mux.HandleFunc("POST /ctl/{n}", g.serveControl)
	g.http = &http.Server{Handler: mux}
	g.wg.Go(func() { g.http.Serve(g.ln) })
	g.wg.Go(g.serveSSDP)
	t.Cleanup(g.close)
	return g
}

func (g *IGD) close() {
	g.ssdp.Close()
	g.http.Close()
	g.wg.Wait()
}

// Location is the root description's URL.
func (g *IGD) Location() string { return "http://" + g.ln.Addr().String() + "/rootDesc.xml" }

// Mappings lists the mappings held, by external port.
func (g *IGD) Mappings() []Entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Entry
	for _, e := range g.mappings {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return int(a.ExternalPort) - int(b.ExternalPort) })
	return out
}

// Calls lists the SOAP actions received, in order.
func (g *IGD) Calls() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

// Add puts a mapping on the gateway, as another host (or a crashed chatd)
// would have.
func (g *IGD) Add(e Entry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mappings[e.ExternalPort] = e
}

// Take makes port belong to another host: adding it gets 718.
func (g *IGD) Take(port uint16) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.taken[port] = true
}

// OnlyPermanent makes AddPortMapping refuse a non-zero lease with 725.
func (g *IGD) OnlyPermanent(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onlyPermanent = on
}

// FailExternalIP makes GetExternalIPAddress fail with 501.
func (g *IGD) FailExternalIP(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failExternal = on
}

// SetExternalIP changes the external address of every service.
func (g *IGD) SetExternalIP(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.external = ip
	for i := range g.services {
		g.services[i].ExternalIP = ""
	}
}

// Reboot drops every mapping, as a router restart does.
func (g *IGD) Reboot() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.mappings)
}

func (g *IGD) serveSSDP() {
	buf := make([]byte, 2048)
	for {
		n, from, err := g.ssdp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(buf[:n], []byte("M-SEARCH * HTTP/1.1\r\n")) {
			continue
		}
		resp := "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" +
			"USN: uuid:fake-igd::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\nSERVER: fake/1 UPnP/1.1 portmaptest/1\r\n" +
			"LOCATION: " + g.Location() + "\r\n\r\n"
		g.ssdp.WriteToUDPAddrPort([]byte(resp), from)
	}
}

func (g *IGD) serveDescription(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	services := slices.Clone(g.services)
	g.mu.Unlock()
	var sl strings.Builder
	for i, s := range services {
		fmt.Fprintf(&sl, `<service><serviceType>urn:schemas-upnp-org:service:%s</serviceType><serviceId>urn:upnp-org:serviceId:Conn%d</serviceId>`+
			`<controlURL>/ctl/%d</controlURL><eventSubURL>/evt/%d</eventSubURL><SCPDURL>/scpd/%d.xml</SCPDURL></service>`, s.Type, i, i, i, i)
	}
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	fmt.Fprintf(w, `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><friendlyName>fake gateway</friendlyName><UDN>uuid:fake-igd</UDN>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><friendlyName>WAN</friendlyName><UDN>uuid:fake-wan</UDN>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><friendlyName>WAN connection</friendlyName><UDN>uuid:fake-conn</UDN>
<serviceList>%s</serviceList></device></deviceList></device></deviceList></device></root>`, sl.String())
}

// soapFault is a UPnP error.
type soapFault struct {
	code int
	desc string
}

func (g *IGD) serveControl(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	g.mu.Lock()
	ok := err == nil && n >= 0 && n < len(g.services)
	g.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	action, args, err := parseSOAP(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.calls = append(g.calls, action)
	urn := "urn:schemas-upnp-org:service:" + g.services[n].Type
	out, fault := g.do(n, action, args)
	g.mu.Unlock()
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	if fault != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>%d</errorCode><errorDescription>%s</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`, fault.code, fault.desc)
		return
	}
	var body strings.Builder
	for _, kv := range out {
		fmt.Fprintf(&body, "<%s>", kv[0])
		xml.EscapeText(&body, []byte(kv[1]))
		fmt.Fprintf(&body, "</%s>", kv[0])
	}
	fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:%sResponse xmlns:u="%s">%s</u:%sResponse></s:Body></s:Envelope>`,
		action, urn, body.String(), action)
}

// parseSOAP returns the action's name and its arguments.
func parseSOAP(r io.Reader) (string, map[string]string, error) {
	var env struct {
		Body struct {
			Action struct {
				XMLName xml.Name
				Args    []struct {
					XMLName xml.Name
					Value   string `xml:",chardata"`
				} `xml:",any"`
			} `xml:",any"`
		} `xml:"Body"`
	}
	if err := xml.NewDecoder(io.LimitReader(r, 64<<10)).Decode(&env); err != nil {
		return "", nil, fmt.Errorf("parse soap request: %w", err)
	}
	args := map[string]string{}
	for _, a := range env.Body.Action.Args {
		args[a.XMLName.Local] = a.Value
	}
	return env.Body.Action.XMLName.Local, args, nil
}

// do runs one action; g.mu is held.
func (g *IGD) do(n int, action string, a map[string]string) ([][2]string, *soapFault) {
	svc := g.services[n]
	switch action {
	case "GetStatusInfo":
		st := svc.Status
		if st == "" {
			st = "Connected"
		}
		return [][2]string{{"NewConnectionStatus", st}, {"NewLastConnectionError", "ERROR_NONE"}, {"NewUptime", "100"}}, nil
	case "GetExternalIPAddress":
		if g.failExternal {
			return nil, &soapFault{501, "ActionFailed"}
		}
		ip := svc.ExternalIP
		if ip == "" {
			ip = g.external
		}
		return [][2]string{{"NewExternalIPAddress", ip}}, nil
	case "AddPortMapping", "AddAnyPortMapping":
		if action == "AddAnyPortMapping" && !strings.HasSuffix(svc.Type, ":2") {
			return nil, &soapFault{401, "Invalid Action"}
		}
		e, f := entryFrom(a)
		if f != nil {
			return nil, f
		}
		if g.onlyPermanent && e.Lease != 0 {
			return nil, &soapFault{725, "OnlyPermanentLeasesSupported"}
		}
		if action == "AddAnyPortMapping" {
			for g.taken[e.ExternalPort] || g.heldByOther(e) {
				e.ExternalPort++
			}
			g.mappings[e.ExternalPort] = e
			return [][2]string{{"NewReservedPort", strconv.Itoa(int(e.ExternalPort))}}, nil
		}
		if g.taken[e.ExternalPort] || g.heldByOther(e) {
			return nil, &soapFault{718, "ConflictInMappingEntry"}
		}
		g.mappings[e.ExternalPort] = e
		return nil, nil
	case "DeletePortMapping":
		p, _ := strconv.ParseUint(a["NewExternalPort"], 10, 16)
		if _, ok := g.mappings[uint16(p)]; !ok {
			return nil, &soapFault{714, "NoSuchEntryInArray"}
		}
		delete(g.mappings, uint16(p))
		return nil, nil
	case "GetSpecificPortMappingEntry":
		p, _ := strconv.ParseUint(a["NewExternalPort"], 10, 16)
		e, ok := g.mappings[uint16(p)]
		if !ok {
			return nil, &soapFault{714, "NoSuchEntryInArray"}
		}
		return [][2]string{{"NewInternalPort", strconv.Itoa(int(e.InternalPort))}, {"NewInternalClient", e.Client},
			{"NewEnabled", "1"}, {"NewPortMappingDescription", e.Description}, {"NewLeaseDuration", strconv.Itoa(int(e.Lease))}}, nil
	case "GetGenericPortMappingEntry":
		i, err := strconv.Atoi(a["NewPortMappingIndex"])
		ports := make([]uint16, 0, len(g.mappings))
		for p := range g.mappings {
			ports = append(ports, p)
		}
		slices.Sort(ports)
		if err != nil || i < 0 || i >= len(ports) {
			return nil, &soapFault{713, "SpecifiedArrayIndexInvalid"}
		}
		e := g.mappings[ports[i]]
		return [][2]string{{"NewRemoteHost", ""}, {"NewExternalPort", strconv.Itoa(int(e.ExternalPort))}, {"NewProtocol", e.Protocol},
			{"NewInternalPort", strconv.Itoa(int(e.InternalPort))}, {"NewInternalClient", e.Client}, {"NewEnabled", "1"},
			{"NewPortMappingDescription", e.Description}, {"NewLeaseDuration", strconv.Itoa(int(e.Lease))}}, nil
	}
	return nil, &soapFault{401, "Invalid Action"}
}

// heldByOther reports whether e's external port maps to another client or
// port; g.mu is held.
func (g *IGD) heldByOther(e Entry) bool {
	old, ok := g.mappings[e.ExternalPort]
	return ok && (old.Client != e.Client || old.InternalPort != e.InternalPort)
}

func entryFrom(a map[string]string) (Entry, *soapFault) {
	ext, err1 := strconv.ParseUint(a["NewExternalPort"], 10, 16)
	in, err2 := strconv.ParseUint(a["NewInternalPort"], 10, 16)
	lease, err3 := strconv.ParseUint(a["NewLeaseDuration"], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil || a["NewInternalClient"] == "" || a["NewProtocol"] == "" {
		return Entry{}, &soapFault{402, "Invalid Args"}
	}
	return Entry{ExternalPort: uint16(ext), Protocol: a["NewProtocol"], InternalPort: uint16(in),
		Client: a["NewInternalClient"], Description: a["NewPortMappingDescription"], Lease: uint32(lease)}, nil
}
