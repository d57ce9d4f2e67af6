package portmap

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPCPRoundTrip(t *testing.T) {
	internal := netip.MustParseAddrPort("192.168.1.5:7171")
	nonce := pcpNonce(internal)
	req := pcpRequest(pcpOpMap, 7200, internal.Addr(), nonce, 7171, 7171, netip.Addr{})
	if len(req) != 60 || req[0] != 2 || req[1] != pcpOpMap {
		t.Fatalf("MAP request: % x", req)
	}
	// A server's answer is the request with the response bit, a result,
	// the epoch and the assigned address.
	resp := append([]byte(nil), req...)
	resp[1] |= pcpResponse
	copy(resp[8:12], []byte{0, 0, 1, 0}) // epoch 256
	clear(resp[12:24])
	ext := netip.MustParseAddr("203.0.113.9").As16()
	copy(resp[24+20:], ext[:])
	resp[24+18], resp[24+19] = 0x9c, 0x40 // port 40000
	a, err := parsePCP(resp)
	if err != nil {
		t.Fatal(err)
	}
	if a.Op != pcpOpMap || a.Epoch != 256 || a.Lifetime != 7200 || a.Nonce != nonce ||
		a.External != netip.MustParseAddrPort("203.0.113.9:40000") || a.Internal != 7171 || a.err() != nil {
		t.Fatalf("parsed %+v", a)
	}
	resp[3] = 2
	if a, _ := parsePCP(resp); a.err() == nil || !strings.Contains(a.err().Error(), "not authorized") {
		t.Fatalf("result 2: %v", a.err())
	}
	if pcpNonce(internal) != nonce || pcpNonce(netip.MustParseAddrPort("192.168.1.5:7172")) == nonce {
		t.Fatal("the nonce must be the same for the same internal address and port only")
	}
}

func TestParsePCPRejectsMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":         make([]byte, 20),
		"odd length":    make([]byte, 25),
		"version 0":     append([]byte{0, 0x81}, make([]byte, 22)...),
		"a request":     append([]byte{2, 0x01}, make([]byte, 22)...),
		"truncated map": append([]byte{2, 0x81}, make([]byte, 30)...),
	} {
		if _, err := parsePCP(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParsePMPExternalAddr(t *testing.T) {
	a, err := parsePMPExternalAddr([]byte{0, 128, 0, 0, 0, 0, 0, 9, 11, 0, 0, 2})
	if err != nil || a.Epoch != 9 || a.Addr != netip.MustParseAddr("11.0.0.2") {
		t.Fatalf("got %+v, %v", a, err)
	}
	if _, err := parsePMPExternalAddr([]byte{0, 128, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0}); err == nil {
		t.Fatal("result 3 (network failure) accepted")
	}
	if _, err := parsePMPExternalAddr([]byte{0, 128, 0, 0}); err == nil {
		t.Fatal("a 4-byte answer accepted")
	}
}

func TestEpochGoingBackMeansRestart(t *testing.T) {
	var e epoch
	t0 := time.Now()
	if err := e.observe(1000, t0); err != nil {
		t.Fatal(err)
	}
	if err := e.observe(1010, t0.Add(10*time.Second)); err != nil {
		t.Fatalf("an epoch that kept pace: %v", err)
	}
	if err := e.observe(1009, t0.Add(11*time.Second)); err != nil {
		t.Fatalf("within the 2 s slack: %v", err)
	}
	if err := e.observe(3, t0.Add(12*time.Second)); err != errRestarted {
		t.Fatalf("epoch back to 3: %v, want errRestarted", err)
	}
	if err := e.observe(5, t0.Add(14*time.Second)); err != nil {
		t.Fatalf("after a restart the new epoch is the baseline: %v", err)
	}
}

func TestParseSSDPAnswer(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n\r\n"
	loc, err := parseSSDPAnswer([]byte(ok))
	if err != nil || loc.String() != "http://192.168.1.1:5000/rootDesc.xml" {
		t.Fatalf("got %v, %v", loc, err)
	}
	for name, b := range map[string]string{
		"printer":  "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:Printer:1\r\nLOCATION: http://192.168.1.9/d.xml\r\n\r\n",
		"https":    "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nLOCATION: file:///etc/passwd\r\n\r\n",
		"status":   "HTTP/1.1 404 Not Found\r\nST: upnp:rootdevice\r\n\r\n",
		"garbage":  "\x00\x01",
		"no place": "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n",
	} {
		if _, err := parseSSDPAnswer([]byte(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseRoutes(t *testing.T) {
	const table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"lan0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"lan0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	gw, err := parseRoutes(bufio.NewScanner(strings.NewReader(table)))
	if err != nil || gw != netip.MustParseAddr("192.168.1.1") {
		t.Fatalf("got %v, %v", gw, err)
	}
	if _, err := parseRoutes(bufio.NewScanner(strings.NewReader(strings.Split(table, "\n")[0] + "\n"))); err == nil {
		t.Fatal("a table without a default route gave a gateway")
	}
}

func TestIsPublic(t *testing.T) {
	for a, want := range map[string]bool{
		"11.0.0.2": true, "198.51.100.9": true, "100.64.0.1": false, "100.127.255.255": false,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.0.1": false, "0.0.0.0": false,
		"127.0.0.1": false, "169.254.1.1": false, "2001:db8::1": true, "fd00::1": false,
	} {
		if got := isPublic(netip.MustParseAddr(a)); got != want {
			t.Errorf("isPublic(%s) = %v, want %v", a, got, want)
		}
	}
}

func FuzzParsePCP(f *testing.F) {
	req := pcpRequest(pcpOpMap, 7200, netip.MustParseAddr("10.0.0.2"), [12]byte{1}, 7171, 7171, netip.Addr{})
	req[1] |= pcpResponse
	f.Add(req)
	f.Add(append([]byte{2, 0x80}, make([]byte, 22)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parsePCP(b)
		if err != nil {
			return
		}
		if len(b) < pcpHeaderLen || b[0] != pcpVersion || a.Op&pcpResponse != 0 {
			t.Fatalf("accepted % x as %+v", b, a)
		}
		_ = a.err()
	})
}

func FuzzParsePMPExternalAddr(f *testing.F) {
	f.Add([]byte{0, 128, 0, 0, 0, 0, 0, 9, 11, 0, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parsePMPExternalAddr(b)
		if err == nil && (!a.Addr.Is4() || len(b) < 12) {
			t.Fatalf("accepted % x as %+v", b, a)
		}
	})
}

func FuzzParseSSDPAnswer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nLOCATION: http://[::1]:80/x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		loc, err := parseSSDPAnswer(b)
		if err == nil && (loc.Scheme != "http" || loc.Host == "") {
			t.Fatalf("accepted location %v", loc)
		}
	})
}

func FuzzParseRoutes(f *testing.F) {
	f.Add("Iface\tDestination\tGateway\tFlags\nlan0\t00000000\t0101A8C0\t0003\n")
	f.Fuzz(func(t *testing.T, s string) {
		gw, err := parseRoutes(bufio.NewScanner(strings.NewReader(s)))
		if err == nil && !gw.Is4() {
			t.Fatalf("gateway %v", gw)
		}
	})
}
