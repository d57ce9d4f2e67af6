package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/internal/tlsident"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// Every connection to a relay starts with TLS 1.3, the relay proving the
// key of its address with a certificate made from that key (tlsident),
// and only then carries frames. An observer on the path sees a TLS
// handshake to the relay's address and nothing else: not the key a caller
// asks for, not the key a reservation is held for (that is the client's
// certificate, which TLS 1.3 encrypts), not the caller's address the relay
// passes on.

// clientConfig is the TLS configuration for one connection to the relay
// holding relayKey. cert is the client's identity certificate, sent only
// on a control connection (Reserve): callers and joining targets stay
// anonymous to the relay.
func clientConfig(relayKey ed25519.PublicKey, cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		NextProtos: []string{wire.ALPN},
		// The relay is named by its key, not by a CA: the key is checked
		// below, before the client sends anything of its own (its
		// certificate, its first frame).
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return checkRelayCert(raw, relayKey)
		},
		// No ClientSessionCache: a resumption ticket travels in the clear
		// and would link a client's connections to each other.
	}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

func checkRelayCert(raw [][]byte, want ed25519.PublicKey) error {
	got, err := tlsident.PeerKey(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRelaySignature, err)
	}
	if !got.Equal(want) {
		return fmt.Errorf("%w: relay has %s, address says %s", ErrWrongRelayKey,
			base64.RawURLEncoding.EncodeToString(got), base64.RawURLEncoding.EncodeToString(want))
	}
	return nil
}

// dialTLS connects to the relay at a and runs the TLS handshake within
// ctx and timeout; the returned connection has no deadline left.
func dialTLS(ctx context.Context, dial DialFunc, a Addr, cert *tls.Certificate, timeout time.Duration) (*tls.Conn, error) {
	if len(a.Key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("relay address key is %d bytes, want %d", len(a.Key), ed25519.PublicKeySize)
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	raw, err := dial(ctx, "tcp", a.HostPort)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", a.HostPort, err)
	}
	first := &firstBytes{Conn: raw, buf: make([]byte, 0, wire.HeaderSize+wire.MaxPayload)}
	conn := tls.Client(first, clientConfig(a.Key, cert))
	release := bound(ctx, raw, timeout)
	err = conn.Handshake()
	if err != nil {
		err = handshakeError(first.buf, err)
	}
	first.buf = nil
	release()
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls to %s: %w", a.HostPort, ctxErr(ctx, err))
	}
	return conn, nil
}

// handshakeError explains a failed TLS handshake, given the first bytes
// the relay sent. A version-1 relay answers a ClientHello with one
// version-1 error frame, which crypto/tls reports as a record that is not
// TLS: read that frame and say so. Only an answer that starts so is an
// old relay; one that began with TLS records and then went wrong is not.
func handshakeError(first []byte, err error) error {
	var rhe tls.RecordHeaderError
	if !errors.As(err, &rhe) || rhe.Conn == nil || rhe.RecordHeader[0] != wire.V1 || len(first) == 0 || first[0] != wire.V1 {
		if strings.Contains(err.Error(), "no application protocol") {
			return fmt.Errorf("%w: the relay does not speak protocol %s: %w", ErrProtocol, wire.ALPN, err)
		}
		return err
	}
	f, rerr := wire.ReadV1(io.MultiReader(bytes.NewReader(first), rhe.Conn))
	what := "a version 1 frame"
	if rerr == nil && wire.IsV1Error(f) {
		what = fmt.Sprintf("%q", f.Payload)
	}
	return fmt.Errorf("%w: %w: it answered TLS with %s; it must be upgraded", ErrProtocol, ErrOldRelay, what)
}

// firstBytes keeps the first bytes read from a relay until the handshake
// is over (buf nil), so that handshakeError can read a version-1 answer
// that crypto/tls has already taken from the connection.
type firstBytes struct {
	net.Conn
	buf []byte
}

func (f *firstBytes) Read(b []byte) (int, error) {
	n, err := f.Conn.Read(b)
	if f.buf != nil {
		f.buf = append(f.buf, b[:min(n, cap(f.buf)-len(f.buf))]...)
	}
	return n, err
}

// maxRecord bounds the TLS records a client sends the relay. crypto/tls
// keeps each connection's read buffer as large as the largest record it
// has received, for the connection's life, and the relay holds two such
// connections per session: 16 KiB records would cost it about 37 KiB per
// idle session, 4 KiB records about 10 KiB. The cost here is a record
// header and a write per 4 KiB, on a path that is the last resort anyway.
const maxRecord = 4 << 10

// relayedConn is a connection through the relay: TLS to the relay, with
// writes cut into records of at most maxRecord bytes.
type relayedConn struct {
	*tls.Conn
}

func (c relayedConn) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), maxRecord)
		m, err := c.Conn.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// closeNow closes the TCP connection under c at once: a TLS close_notify
// could wait for a relay that does not read.
func closeNow(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	c.Close()
}
