package portmap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	natpmp "github.com/jackpal/go-nat-pmp"
)

// pmpGateway maps ports with NAT-PMP (RFC 6886). Mapping requests go
// through jackpal/go-nat-pmp, which has no context, so each call gets a
// timeout from ctx's deadline; the external-address request, which also
// carries the epoch, is our own small codec so that probing can be
// cancelled with the other protocols.
type pmpGateway struct {
	gw, self netip.Addr
	lease    time.Duration // asked for
	ep       epoch
	ext      netip.Addr // last external address read
}

// pmpTimeout bounds a go-nat-pmp call when ctx has no deadline.
const pmpTimeout = 2 * time.Second

func (g *pmpGateway) method() string { return MethodNATPMP }
func (g *pmpGateway) addr() string   { return g.gw.String() }
func (g *pmpGateway) close()         {}

// pmpExternalAddr is the 12-byte answer to an external-address request.
type pmpExternalAddr struct {
	Epoch uint32
	Addr  netip.Addr
}

// parsePMPExternalAddr decodes an answer to opcode 0 (RFC 6886 section 3.2).
func parsePMPExternalAddr(b []byte) (pmpExternalAddr, error) {
	if len(b) < 12 || b[0] != 0 || b[1] != 128 {
		return pmpExternalAddr{}, fmt.Errorf("nat-pmp: malformed external address answer (%d bytes)", len(b))
	}
	if code := binary.BigEndian.Uint16(b[2:4]); code != 0 {
		return pmpExternalAddr{}, fmt.Errorf("nat-pmp: external address request refused (result %d)", code)
	}
	return pmpExternalAddr{
		Epoch: binary.BigEndian.Uint32(b[4:8]),
		Addr:  netip.AddrFrom4([4]byte(b[8:12])),
	}, nil
}

// isPMPAnswer takes an answer to opcode 0 (or a PCP server's "unsupported
// version" reply, which proves a PCP server but not NAT-PMP).
func isPMPAnswer(b []byte) bool { return len(b) >= 4 && b[0] == 0 && b[1] == 128 }

func (g *pmpGateway) externalAddr(ctx context.Context) (netip.Addr, error) {
	b, err := udpCall(ctx, g.self, netip.AddrPortFrom(g.gw, pmpPort), []byte{0, 0}, isPMPAnswer)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("nat-pmp external address: %w", err)
	}
	a, err := parsePMPExternalAddr(b)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := g.ep.observe(a.Epoch, time.Now()); err != nil {
		return a.Addr, err
	}
	g.ext = a.Addr
	return a.Addr, nil
}

func (g *pmpGateway) client(ctx context.Context) *natpmp.Client {
	timeout := pmpTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	return natpmp.NewClientWithLocalAndTimeout(g.gw.AsSlice(), g.self.AsSlice(), timeout)
}

// mapPort asks for prefer[0]; a NAT-PMP gateway picks another port itself
// when that one is taken.
func (g *pmpGateway) mapPort(ctx context.Context, internal netip.AddrPort, prefer []uint16, ext netip.Addr) (Mapping, error) {
	ctx, cancel := context.WithTimeout(ctx, pmpTimeout)
	defer cancel()
	r, err := g.client(ctx).AddPortMapping("tcp", int(internal.Port()), int(prefer[0]), int(g.lease/time.Second))
	if err != nil {
		return Mapping{}, fmt.Errorf("nat-pmp map: %w", err)
	}
	if err := g.ep.observe(r.SecondsSinceStartOfEpoc, time.Now()); err != nil {
		return Mapping{}, err
	}
	life := time.Duration(r.PortMappingLifetimeInSeconds) * time.Second
	if r.MappedExternalPort == 0 || life <= 0 {
		return Mapping{}, errors.New("nat-pmp map: the gateway granted no port")
	}
	return Mapping{
		Internal: internal,
		External: netip.AddrPortFrom(ext, r.MappedExternalPort),
		Lifetime: life,
		Expires:  time.Now().Add(life),
	}, nil
}

// check asks for the external address: it fails when the epoch says the
// gateway restarted or when the address moved.
func (g *pmpGateway) check(ctx context.Context, m Mapping) error {
	ext, err := g.externalAddr(ctx)
	if err != nil {
		return err
	}
	return sameExternal(ext, m)
}

// unmap asks for a lifetime of 0 (RFC 6886 section 3.4).
func (g *pmpGateway) unmap(ctx context.Context, m Mapping) error {
	if _, err := g.client(ctx).AddPortMapping("tcp", int(m.Internal.Port()), 0, 0); err != nil {
		return fmt.Errorf("nat-pmp delete: %w", err)
	}
	return nil
}
