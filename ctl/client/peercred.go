package client

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// ErrForeignDaemon means the control socket is served by a process of
// another user: someone may have put their socket in place of chatd's to
// read what chatctl sends. Nothing was sent.
var ErrForeignDaemon = errors.New("control socket served by another user")

type foreignError struct {
	socket   string
	uid, own int
}

func (e *foreignError) Error() string {
	return fmt.Sprintf("refusing %s: it is served by uid %d, not by you (uid %d); nothing was sent", e.socket, e.uid, e.own)
}
func (e *foreignError) Is(target error) bool { return target == ErrForeignDaemon }

// checkServer reads the server's credentials from the connected socket
// (SO_PEERCRED: the process that called listen) before anything is
// written, and refuses a server of another uid. Connections other than
// Unix sockets (from a Dial hook) are the hook's business.
func (c *Client) checkServer(conn net.Conn) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("server credentials on %s: %w", c.SocketPath(), err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("server credentials on %s: %w", c.SocketPath(), err)
	}
	if cerr != nil {
		return fmt.Errorf("server credentials on %s: %w", c.SocketPath(), cerr)
	}
	if own := os.Getuid(); int(cred.Uid) != own {
		return &foreignError{socket: c.SocketPath(), uid: int(cred.Uid), own: own}
	}
	return nil
}
