package peer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/wire"
)

// Magic starts the preamble each side sends before TLS.
const Magic = "P2PCHAT1"

const (
	preambleLen = len(Magic) + ed25519.PublicKeySize
	alpn        = "p2pchat/1"
	// exporterLabel names the TLS keying material both ends derive as the
	// connection's ID (RFC 8446 §7.5), which decides between duplicates.
	exporterLabel = "EXPORTER-p2pchat-connection-id"
)

// link is a connection that finished the handshake: both keys proven,
// Hellos exchanged, not yet authorised.
type link struct {
	raw     net.Conn
	dc      *deadlineConn
	tls     *tls.Conn
	r       *frameReader
	w       *wire.Writer
	peerKey ed25519.PublicKey
	hello   wire.Hello // the peer's
	version uint16
	id      [16]byte // same value on both ends
	dialed  bool
}

// handshakeParams is what one side brings to a handshake.
type handshakeParams struct {
	self    *identity.Identity
	name    string
	tlsBase *tls.Config // Certificates and protocol limits; cloned per connection
	// expectKey and expectName are set when dialling a known contact: a
	// peer with another key or name is refused.
	expectKey  ed25519.PublicKey
	expectName string
	dialed     bool
	timeout    time.Duration
}

// newTLSBase returns the TLS settings shared by every connection.
func newTLSBase(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		// Peers are not named by a CA but by their key, which
		// VerifyPeerCertificate checks against the preamble (and the
		// preamble against the pin or the tracker record).
		InsecureSkipVerify:     true,
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true, // resumption would skip nothing we need and costs memory
		NextProtos:             []string{alpn},
	}
}

// handshake runs preamble, TLS and Hello on conn. On error the caller
// closes conn.
func handshake(ctx context.Context, conn net.Conn, p handshakeParams) (*link, error) {
	conn.SetDeadline(time.Now().Add(p.timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	peerKey, err := exchangePreamble(conn, p)
	if err != nil {
		return nil, err
	}
	l := &link{raw: conn, dc: &deadlineConn{Conn: conn}, peerKey: peerKey, dialed: p.dialed}
	if err := l.startTLS(p); err != nil {
		return nil, err
	}
	if err := l.exchangeHello(p); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	conn.SetDeadline(time.Time{})
	return l, nil
}

// exchangePreamble sends ours and reads theirs. Both sides write first:
// 40 bytes always fit in the socket buffer, so this cannot deadlock.
func exchangePreamble(conn net.Conn, p handshakeParams) (ed25519.PublicKey, error) {
	var out [preambleLen]byte
	copy(out[:], Magic)
	copy(out[len(Magic):], p.self.Public)
	if _, err := conn.Write(out[:]); err != nil {
		return nil, fmt.Errorf("send preamble: %w", err)
	}
	var in [preambleLen]byte
	if _, err := io.ReadFull(conn, in[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read preamble: %w: connection closed early", ErrNotPeer)
		}
		return nil, fmt.Errorf("read preamble: %w", err)
	}
	if string(in[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("read preamble: %w: starts with %q", ErrNotPeer, in[:len(Magic)])
	}
	key := ed25519.PublicKey(bytes.Clone(in[len(Magic):]))
	if key.Equal(p.self.Public) {
		return nil, ErrSelf
	}
	if p.expectKey != nil && !key.Equal(p.expectKey) {
		return nil, &KeyMismatchError{Name: p.expectName, Want: p.expectKey, Got: key}
	}
	return key, nil
}

// startTLS runs the TLS 1.3 handshake. Roles come from the keys, not from
// who dialled: after a TCP simultaneous open both sides dialled.
func (l *link) startTLS(p handshakeParams) error {
	cfg := p.tlsBase.Clone()
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		key, err := identity.PeerKeyFromCerts(raw)
		if err != nil {
			return err
		}
		if !key.Equal(l.peerKey) {
			return fmt.Errorf("certificate key differs from preamble key: %w",
				&KeyMismatchError{Name: p.expectName, Want: l.peerKey, Got: key})
		}
		return nil
	}
	if bytes.Compare(p.self.Public, l.peerKey) < 0 {
		l.tls = tls.Client(l.dc, cfg)
	} else {
		l.tls = tls.Server(l.dc, cfg)
	}
	if err := l.tls.Handshake(); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	st := l.tls.ConnectionState()
	id, err := st.ExportKeyingMaterial(exporterLabel, nil, len(l.id))
	if err != nil {
		return fmt.Errorf("tls exporter: %w", err)
	}
	copy(l.id[:], id)
	return nil
}

func (l *link) exchangeHello(p handshakeParams) error {
	l.r = newFrameReader(l.tls)
	l.w = wire.NewWriter(l.tls)
	if err := l.w.WriteFrame(wire.Hello{Versions: wire.Versions(), Name: p.name}); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	f, err := l.r.ReadFrame()
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	switch h := f.(type) {
	case wire.Hello:
		l.hello = h
	case wire.Bye:
		return fmt.Errorf("read hello: %w", &ByeError{Reason: h.Reason})
	default:
		return fmt.Errorf("read hello: %w: got %v", ErrProtocol, f.Type())
	}
	if l.hello.Name == "" {
		return fmt.Errorf("read hello: %w: empty name", ErrProtocol)
	}
	if p.expectName != "" && l.hello.Name != p.expectName {
		return fmt.Errorf("%w: dialled %q, peer says it is %q", ErrNameMismatch, p.expectName, l.hello.Name)
	}
	l.version, err = wire.Negotiate(wire.Versions(), l.hello.Versions)
	return err
}
