package natlab

import (
	"net/netip"
	"reflect"
	"testing"
)

// What iptables-legacy 1.8.9 prints for miniupnpd 2.3.1's chains.
const (
	dnatChain = `-N MINIUPNPD
-A MINIUPNPD -p tcp -m tcp --dport 4000 -j DNAT [unsupported revision]
-A MINIUPNPD -p udp -m udp --dport 4001 -j DNAT [unsupported revision]
-A MINIUPNPD -p tcp -m tcp --dport 4002 -j DNAT --to-destination 192.168.1.4:22
`
	postroutingChain = `-N MINIUPNPD-POSTROUTING
-A MINIUPNPD-POSTROUTING -s 192.168.1.2/32 -p tcp -m tcp --sport 5000 -j MASQUERADE --to-ports 4000
`
	filterChain = `-N MINIUPNPD
-A MINIUPNPD -d 192.168.1.2/32 -p tcp -m tcp --dport 5000 -j ACCEPT
-A MINIUPNPD -d 192.168.1.3/32 -p udp -m udp --dport 6000 -j ACCEPT
-A MINIUPNPD -d 192.168.1.4/32 -p tcp -m tcp --dport 22 -j ACCEPT
`
)

func TestParseRedirects(t *testing.T) {
	got, err := parseRedirects([]byte(dnatChain), []byte(postroutingChain), []byte(filterChain))
	if err != nil {
		t.Fatal(err)
	}
	want := []Redirect{
		{"tcp", 4000, netip.MustParseAddrPort("192.168.1.2:5000")}, // from the masquerade rule
		{"udp", 4001, netip.MustParseAddrPort("192.168.1.3:6000")}, // from the filter rule
		{"tcp", 4002, netip.MustParseAddrPort("192.168.1.4:22")},   // from --to-destination
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseRedirects = %v, want %v", got, want)
	}
	if rs, err := parseRedirects([]byte("-N MINIUPNPD\n"), nil, nil); err != nil || len(rs) != 0 {
		t.Fatalf("empty chains: %v, %v", rs, err)
	}
	if _, err := parseRedirects([]byte("-A MINIUPNPD -p tcp -m tcp --dport 1 -j DNAT\n"), nil, nil); err == nil {
		t.Fatal("a DNAT rule with no internal address anywhere parsed")
	}
}

func TestLiteral(t *testing.T) {
	for _, c := range []struct {
		network, addr string
		ok            bool
	}{
		{"tcp", "11.0.0.10:80", true},
		{"tcp4", ":0", true},
		{"udp", "[fe80::1%eth0]:5351", true},
		{"ip4:icmp", "11.0.0.10", true},
		{"unix", "/run/x.sock", true},
		{"tcp", "localhost:80", false},
		{"udp", "tracker.example:443", false},
		{"tcp", "11.0.0.10", false}, // no port
	} {
		if err := literal(c.network, c.addr); (err == nil) != c.ok {
			t.Errorf("literal(%q, %q) = %v, want ok=%v", c.network, c.addr, err, c.ok)
		}
	}
}

func TestOwnerPID(t *testing.T) {
	for ns, want := range map[string]int{"p2pc-123-1-inet": 123, "p2pc-x-1-inet": 0, "other-1-2": 0, "p2pc-77": 0} {
		if pid, ok := ownerPID(ns); pid != want || ok != (want != 0) {
			t.Errorf("ownerPID(%q) = %d, %v; want %d", ns, pid, ok, want)
		}
	}
}
