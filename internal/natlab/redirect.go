package natlab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
)

// Redirect is a port mapping the gateway installed: traffic for the
// router's WAN address and ExternalPort goes to Internal.
type Redirect struct {
	Proto        string // "tcp" or "udp"
	ExternalPort uint16
	Internal     netip.AddrPort
}

func (r Redirect) String() string {
	return fmt.Sprintf("%s %d -> %v", r.Proto, r.ExternalPort, r.Internal)
}

// Redirects lists the port mappings in the router's iptables, the ones
// miniupnpd made, in the order it made them.
func (r *Router) Redirects() ([]Redirect, error) {
	var out [3][]byte
	for i, c := range [][2]string{{"nat", "MINIUPNPD"}, {"nat", "MINIUPNPD-POSTROUTING"}, {"filter", "MINIUPNPD"}} {
		b, err := exec.Command("ip", "netns", "exec", r.ns, "iptables-legacy", "-w", "-t", c[0], "-S", c[1]).Output()
		if err != nil {
			return nil, fmt.Errorf("natlab: router %s: iptables-legacy -t %s -S %s: %w", r.name, c[0], c[1], err)
		}
		out[i] = b
	}
	return parseRedirects(out[0], out[1], out[2])
}

// parseRedirects joins miniupnpd's three chains, as `iptables -S` prints
// them, into redirects. The DNAT rules give the protocol and external port;
// iptables 1.8.9 cannot print the target of the DNAT revision miniupnpd
// writes ("[unsupported revision]"), so the internal address comes from the
// masquerade rule miniupnpd adds for the same mapping (-s internal --sport
// port --to-ports external), or else from the filter rule in the same
// position.
func parseRedirects(dnat, postrouting, filter []byte) ([]Redirect, error) {
	type key struct {
		proto string
		port  uint16
	}
	masq := map[key]netip.AddrPort{}
	for _, f := range ruleLines(postrouting) {
		src, err1 := netip.ParsePrefix(f["-s"])
		sport, err2 := parsePort(f["--sport"])
		eport, err3 := parsePort(f["--to-ports"])
		if err1 == nil && err2 == nil && err3 == nil {
			masq[key{f["-p"], eport}] = netip.AddrPortFrom(src.Addr(), sport)
		}
	}
	accepts := ruleLines(filter)
	var rs []Redirect
	for i, f := range ruleLines(dnat) {
		if f["-j"] != "DNAT" {
			continue
		}
		eport, err := parsePort(f["--dport"])
		if err != nil {
			return nil, fmt.Errorf("natlab: DNAT rule %d: %w", i, err)
		}
		rd := Redirect{Proto: f["-p"], ExternalPort: eport}
		if to, err := netip.ParseAddrPort(f["--to-destination"]); err == nil {
			rd.Internal = to
		} else if in, ok := masq[key{rd.Proto, eport}]; ok {
			rd.Internal = in
		} else if i < len(accepts) {
			dst, err1 := netip.ParsePrefix(accepts[i]["-d"])
			dport, err2 := parsePort(accepts[i]["--dport"])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("natlab: no internal address for %s port %d", rd.Proto, eport)
			}
			rd.Internal = netip.AddrPortFrom(dst.Addr(), dport)
		} else {
			return nil, fmt.Errorf("natlab: no internal address for %s port %d", rd.Proto, eport)
		}
		rs = append(rs, rd)
	}
	return rs, nil
}

// ruleLines parses the "-A" lines of `iptables -S` output into option maps
// (the last value of an option repeated wins).
func ruleLines(b []byte) []map[string]string {
	var rules []map[string]string
	for _, line := range bytes.Split(b, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) < 2 || fields[0] != "-A" {
			continue
		}
		f := map[string]string{}
		for i := 2; i < len(fields); i++ {
			if strings.HasPrefix(fields[i], "-") && i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") {
				f[fields[i]] = fields[i+1]
				i++
			}
		}
		rules = append(rules, f)
	}
	return rules
}

func parsePort(s string) (uint16, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", s, err)
	}
	return uint16(p), nil
}
