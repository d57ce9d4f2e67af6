package peer

import (
	"net"
	"sync/atomic"
	"time"
)

// deadlineConn sits between crypto/tls and the TCP connection. Once a
// session is up it gives every read and write its own deadline, so a peer
// that goes silent (or stalls in the middle of a frame) and a peer that
// stops reading are both noticed without a timer per frame: tls.Conn reads
// and writes whole records, so this costs one deadline update per record.
type deadlineConn struct {
	net.Conn
	readTimeout  atomic.Int64 // nanoseconds; 0 leaves read deadlines alone
	writeTimeout atomic.Int64 // nanoseconds; 0 leaves write deadlines alone
	lastRead     atomic.Int64 // Unix nanoseconds of the last read that returned data
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if d := c.readTimeout.Load(); d > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(time.Duration(d)))
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if d := c.writeTimeout.Load(); d > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(time.Duration(d)))
	}
	return c.Conn.Write(p)
}

// sinceRead returns how long ago the peer last sent anything.
func (c *deadlineConn) sinceRead() time.Duration {
	return time.Duration(time.Now().UnixNano() - c.lastRead.Load())
}

// closeWrite half-closes the TCP connection when it can, so the peer reads
// everything we sent and then EOF, while we can still read its last words.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
