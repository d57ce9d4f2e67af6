package portmap

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// PCP (RFC 6887): our own codec for the two opcodes chatd uses, ANNOUNCE
// (to probe and read the epoch) and MAP.
const (
	pcpVersion    = 2
	pcpOpAnnounce = 0
	pcpOpMap      = 1
	pcpResponse   = 0x80
	pcpHeaderLen  = 24
	pcpMapLen     = 36
	protoTCP      = 6
)

// pcpResult names PCP result codes (RFC 6887 section 7.4).
var pcpResult = map[byte]string{
	1: "unsupported version", 2: "not authorized", 3: "malformed request",
	4: "unsupported opcode", 5: "unsupported option", 6: "malformed option",
	7: "network failure", 8: "no resources", 9: "unsupported protocol",
	10: "user exceeded quota", 11: "cannot provide external", 12: "address mismatch",
	13: "excessive remote peers",
}

// pcpAnswer is a decoded PCP response.
type pcpAnswer struct {
	Op       byte
	Result   byte
	Lifetime uint32
	Epoch    uint32
	// For MAP:
	Nonce    [12]byte
	Protocol byte
	Internal uint16
	External netip.AddrPort
}

// pcpRequest encodes a request header (and a MAP body when op is MAP).
func pcpRequest(op byte, lifetime uint32, client netip.Addr, nonce [12]byte, internal, extPort uint16, extAddr netip.Addr) []byte {
	n := pcpHeaderLen
	if op == pcpOpMap {
		n += pcpMapLen
	}
	b := make([]byte, n)
	b[0], b[1] = pcpVersion, op
	binary.BigEndian.PutUint32(b[4:8], lifetime)
	c16 := client.As16()
	copy(b[8:24], c16[:])
	if op == pcpOpMap {
		m := b[pcpHeaderLen:]
		copy(m[0:12], nonce[:])
		m[12] = protoTCP
		binary.BigEndian.PutUint16(m[16:18], internal)
		binary.BigEndian.PutUint16(m[18:20], extPort)
		if !extAddr.IsValid() {
			extAddr = netip.IPv4Unspecified()
		}
		e16 := extAddr.As16()
		copy(m[20:36], e16[:])
	}
	return b
}

// parsePCP decodes a response. It checks the shape, not the result code.
func parsePCP(b []byte) (pcpAnswer, error) {
	if len(b) < pcpHeaderLen || len(b) > 1100 || len(b)%4 != 0 {
		return pcpAnswer{}, fmt.Errorf("pcp: malformed response (%d bytes)", len(b))
	}
	if b[0] != pcpVersion || b[1]&pcpResponse == 0 {
		return pcpAnswer{}, fmt.Errorf("pcp: not a version 2 response (version %d, opcode %#x)", b[0], b[1])
	}
	a := pcpAnswer{
		Op:       b[1] &^ pcpResponse,
		Result:   b[3],
		Lifetime: binary.BigEndian.Uint32(b[4:8]),
		Epoch:    binary.BigEndian.Uint32(b[8:12]),
	}
	if a.Op != pcpOpMap || a.Result != 0 {
		return a, nil
	}
	if len(b) < pcpHeaderLen+pcpMapLen {
		return pcpAnswer{}, fmt.Errorf("pcp: MAP response too short (%d bytes)", len(b))
	}
	m := b[pcpHeaderLen:]
	copy(a.Nonce[:], m[0:12])
	a.Protocol = m[12]
	a.Internal = binary.BigEndian.Uint16(m[16:18])
	ip := netip.AddrFrom16([16]byte(m[20:36])).Unmap()
	a.External = netip.AddrPortFrom(ip, binary.BigEndian.Uint16(m[18:20]))
	return a, nil
}

func (a pcpAnswer) err() error {
	if a.Result == 0 {
		return nil
	}
	name := pcpResult[a.Result]
	if name == "" {
		name = "unknown result"
	}
	return fmt.Errorf("pcp: %s (result %d)", name, a.Result)
}

// pcpGateway maps ports with PCP.
type pcpGateway struct {
	gw, self netip.Addr
	lease    time.Duration // asked for
	ep       epoch
	ext      netip.Addr // from the last MAP answer
	mapped   time.Time  // when the last MAP answer came
}

// pcpRecheck is how often check asks again with a MAP, to learn a new
// external address (PCP has no request for it alone); in between it only
// sends ANNOUNCE, which reads the epoch. A MAP that renews an existing
// mapping makes miniupnpd delete and re-add its rule, so sending one every
// check would leave the port closed for a moment every few seconds.
const pcpRecheck = time.Minute

func (g *pcpGateway) method() string { return MethodPCP }
func (g *pcpGateway) addr() string   { return g.gw.String() }
func (g *pcpGateway) close()         {}

// call sends one request and waits for the matching, successful answer.
func (g *pcpGateway) call(ctx context.Context, req []byte, nonce [12]byte) (pcpAnswer, error) {
	op := req[1]
	b, err := udpCall(ctx, g.self, netip.AddrPortFrom(g.gw, pmpPort), req, func(b []byte) bool {
		a, err := parsePCP(b)
		return err == nil && a.Op == op
	})
	if err != nil {
		return pcpAnswer{}, err
	}
	a, err := parsePCP(b)
	if err != nil {
		return a, err
	}
	if err := g.ep.observe(a.Epoch, time.Now()); err != nil {
		return a, err
	}
	if err := a.err(); err != nil {
		return a, err
	}
	if op == pcpOpMap && (a.Nonce != nonce || a.Protocol != protoTCP) {
		return a, errors.New("pcp: MAP answer for another request")
	}
	return a, nil
}

// announce probes the server and checks its epoch.
func (g *pcpGateway) announce(ctx context.Context) error {
	_, err := g.call(ctx, pcpRequest(pcpOpAnnounce, 0, g.self, [12]byte{}, 0, 0, netip.Addr{}), [12]byte{})
	if err != nil {
		return fmt.Errorf("pcp announce: %w", err)
	}
	return nil
}

// externalAddr checks the epoch; PCP tells the external address only in a
// MAP answer, so it returns the last one seen (invalid before the first).
func (g *pcpGateway) externalAddr(ctx context.Context) (netip.Addr, error) {
	if err := g.announce(ctx); err != nil {
		return netip.Addr{}, err
	}
	return g.ext, nil
}

// nonce is derived from the internal address and port, so a chatd that
// restarts after a crash renews its old mapping instead of being refused
// (a MAP for an existing mapping with another nonce is NOT_AUTHORIZED).
func pcpNonce(internal netip.AddrPort) [12]byte {
	h := sha256.Sum256([]byte("p2pchat pcp nonce " + internal.String()))
	return [12]byte(h[:12])
}

func (g *pcpGateway) request(ctx context.Context, internal netip.AddrPort, port uint16, ext netip.Addr, life time.Duration) (pcpAnswer, error) {
	nonce := pcpNonce(internal)
	req := pcpRequest(pcpOpMap, uint32(life/time.Second), internal.Addr(), nonce, internal.Port(), port, ext)
	return g.call(ctx, req, nonce)
}

// mapPort asks for prefer[0]; like NAT-PMP, a PCP server assigns another
// port itself when that one is taken.
func (g *pcpGateway) mapPort(ctx context.Context, internal netip.AddrPort, prefer []uint16, ext netip.Addr) (Mapping, error) {
	a, err := g.request(ctx, internal, prefer[0], ext, g.lease)
	if err != nil {
		return Mapping{}, fmt.Errorf("pcp map: %w", err)
	}
	if a.Lifetime == 0 || a.External.Port() == 0 {
		return Mapping{}, errors.New("pcp map: the gateway granted no port")
	}
	g.ext, g.mapped = a.External.Addr(), time.Now()
	life := time.Duration(a.Lifetime) * time.Second
	return Mapping{Internal: internal, External: a.External, Lifetime: life, Expires: time.Now().Add(life)}, nil
}

// check reads the epoch (ANNOUNCE: a restart means the mapping is gone)
// and, every pcpRecheck, renews the mapping (a MAP with the same nonce is
// idempotent), failing when the answer moved the external address or port.
func (g *pcpGateway) check(ctx context.Context, m Mapping) error {
	if time.Since(g.mapped) < pcpRecheck {
		return g.announce(ctx)
	}
	got, err := g.mapPort(ctx, m.Internal, []uint16{m.External.Port()}, m.External.Addr())
	if err != nil {
		return err
	}
	if got.External != m.External {
		return fmt.Errorf("external address changed from %s to %s", m.External, got.External)
	}
	return nil
}

// unmap sends a MAP with lifetime 0 (RFC 6887 section 15).
func (g *pcpGateway) unmap(ctx context.Context, m Mapping) error {
	if _, err := g.request(ctx, m.Internal, m.External.Port(), m.External.Addr(), 0); err != nil {
		return fmt.Errorf("pcp delete: %w", err)
	}
	return nil
}
