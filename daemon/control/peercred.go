package control

import (
	"context"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

type credKey struct{}

// credResult travels in the connection's context; err is kept so that the
// refusal can say why.
type credResult struct {
	cred *unix.Ucred
	err  error
}

// connContext reads the peer's credentials once per connection: the kernel
// records them at connect time, so they cannot change afterwards.
func connContext(ctx context.Context, c net.Conn) context.Context {
	cred, err := readPeerCred(c)
	return context.WithValue(ctx, credKey{}, credResult{cred, err})
}

func readPeerCred(c net.Conn) (*unix.Ucred, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("peer credentials: %T is not a unix socket", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return nil, fmt.Errorf("peer credentials: %w", cerr)
	}
	return cred, nil
}

func peerCred(ctx context.Context) (*unix.Ucred, error) {
	res, ok := ctx.Value(credKey{}).(credResult)
	if !ok {
		return nil, errors.New("peer credentials: connection not seen")
	}
	return res.cred, res.err
}
