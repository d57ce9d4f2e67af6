package portmap

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// DefaultGateway reads the IPv4 default route from /proc/net/route (of the
// calling process's network namespace) and finds the local address that
// faces it. It sends nothing: the local address comes from connecting a UDP
// socket, which only consults the routing table.
func DefaultGateway() (gw, self netip.Addr, err error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return gw, self, fmt.Errorf("read routing table: %w", err)
	}
	defer f.Close()
	if gw, err = parseRoutes(bufio.NewScanner(f)); err != nil {
		return gw, self, err
	}
	self, err = localAddrFacing(gw)
	return gw, self, err
}

// parseRoutes finds the default route's gateway in /proc/net/route's format:
// a header line, then Iface Destination Gateway Flags ... with addresses in
// little-endian hex.
func parseRoutes(sc *bufio.Scanner) (netip.Addr, error) {
	const rtfGateway = 0x2
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[1] != "00000000" {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&rtfGateway == 0 {
			continue
		}
		b, err := hex.DecodeString(f[2])
		if err != nil || len(b) != 4 {
			continue
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], binary.LittleEndian.Uint32(b))
		return netip.AddrFrom4(a), nil
	}
	if err := sc.Err(); err != nil {
		return netip.Addr{}, fmt.Errorf("read routing table: %w", err)
	}
	return netip.Addr{}, errors.New("no IPv4 default route")
}

// localAddrFacing is the source address the kernel would use towards gw.
func localAddrFacing(gw netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(gw, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find local address towards %s: %w", gw, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
