//go:build !linux

package portmap

import (
	"errors"
	"net/netip"
)

// DefaultGateway is implemented on Linux only.
func DefaultGateway() (gw, self netip.Addr, err error) {
	return gw, self, errors.New("finding the default gateway is supported on Linux only")
}
