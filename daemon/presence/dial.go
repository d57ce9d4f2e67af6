package presence

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	reuseport "github.com/libp2p/go-reuseport"
)

// HTTPClient returns an HTTP client for the tracker whose connections leave
// from the listening port (SO_REUSEPORT), so that the tracker observes the
// NAT's mapping of the port peers will dial. If that port cannot be used for
// a connection (for instance a recent connection to the same tracker address
// is still in TIME_WAIT), it falls back to an ephemeral port: the announce
// still succeeds, only the observed port may be less useful.
func HTTPClient(listen netip.AddrPort) *http.Client {
	local := &net.Dialer{
		Timeout:   10 * time.Second,
		LocalAddr: net.TCPAddrFromAddrPort(listen),
		Control:   reuseport.Control,
	}
	fallback := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := local.DialContext(ctx, network, addr)
			if err == nil || ctx.Err() != nil || !localPortBusy(err) {
				return c, err
			}
			return fallback.DialContext(ctx, network, addr)
		},
		// One long-lived connection keeps the NAT mapping and avoids
		// TIME_WAIT on the shared port.
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       5 * time.Minute,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func localPortBusy(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EADDRINUSE) ||
		errors.Is(err, syscall.EINVAL)
}
