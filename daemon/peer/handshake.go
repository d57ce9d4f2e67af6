package peer

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/wire"
)

const (
	alpn = "p2pchat/1"
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
		// VerifyPeerCertificate takes from the certificate (and checks
		// against the pin or the tracker record when we dialled).
		InsecureSkipVerify:     true,
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true, // resumption would skip nothing we need and costs memory
		NextProtos:             []string{alpn},
	}
}

// handshake runs preamble, TLS and Hello on conn. On error the caller
// closes conn.
func handshake(ctx context.Context, conn net.Conn, p handshakeParams) (*link, error) {
	// The preamble is 40 bytes a peer sends at once: a connection that
	// stays silent gives up its handshake slot after preambleTimeout, not
	// after the whole handshake's time.
	deadline := time.Now().Add(p.timeout)
	conn.SetDeadline(time.Now().Add(min(p.timeout, preambleTimeout)))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	client, err := exchangePreamble(conn, p.self.Public)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	conn.SetDeadline(deadline)
	l := &link{raw: conn, dc: &deadlineConn{Conn: conn}, dialed: p.dialed}
	if err := l.startTLS(p, client); err != nil {
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

// startTLS runs the TLS 1.3 handshake in the role the preamble gave us
// and learns the peer's key from its certificate. A dialled peer's key is
// checked here: as the TLS client we refuse a wrong server certificate
// before our own is sent, so an impostor does not even learn who called.
func (l *link) startTLS(p handshakeParams, client bool) error {
	cfg := p.tlsBase.Clone()
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		key, err := identity.PeerKeyFromCerts(raw)
		if err != nil {
			return err
		}
		if key.Equal(p.self.Public) {
			return ErrSelf
		}
		if p.expectKey != nil && !key.Equal(p.expectKey) {
			return &KeyMismatchError{Name: p.expectName, Want: p.expectKey, Got: key}
		}
		l.peerKey = key
		return nil
	}
	if client {
		l.tls = tls.Client(l.dc, cfg)
	} else {
		l.tls = tls.Server(l.dc, cfg)
	}
	if err := l.tls.Handshake(); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	if l.peerKey == nil { // crypto/tls calls VerifyPeerCertificate in both roles; be sure
		return fmt.Errorf("tls handshake: %w: no peer certificate", ErrProtocol)
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
