package peer

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
)

// scriptConn is a net.Conn whose peer says exactly script and then hangs
// up; what we write is thrown away.
type scriptConn struct{ r *bytes.Reader }

func (c scriptConn) Read(p []byte) (int, error)     { return c.r.Read(p) }
func (scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (scriptConn) Close() error                     { return nil }
func (scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (scriptConn) SetDeadline(time.Time) error      { return nil }
func (scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzHandshake feeds arbitrary bytes to the accepting side of the
// handshake: preamble parsing and everything after must fail cleanly,
// never panic and never accept.
func FuzzHandshake(f *testing.F) {
	self, _ := identity.Generate(nil)
	other, _ := identity.Generate(nil)
	cert, _ := self.TLSCertificate()
	base := newTLSBase(cert, self.Public)
	n := newNonce()
	f.Add(appendPreamble(nil, n))
	f.Add(appendPreamble(nil, nonce{}))
	f.Add(append(appendPreamble(nil, n), "\x16\x03\x01\x00\x05hello"...))
	f.Add([]byte("P2PCHAT1" + string(other.Public)))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, script []byte) {
		l, err := handshake(context.Background(), scriptConn{bytes.NewReader(script)}, handshakeParams{
			self: self, name: "alice", tlsBase: base, timeout: time.Second,
		})
		if err == nil {
			t.Fatalf("handshake accepted a scripted peer: %+v", l.hello)
		}
	})
}
