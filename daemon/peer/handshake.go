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
	tlsBase *tls.Config // shared by every connection (see newTLSBase)
	// expectKey and expectName are set when dialling a known contact: a
	// peer with another key or name is refused.
	expectKey  ed25519.PublicKey
	expectName string
	dialed     bool
	timeout    time.Duration
}

// newTLSBase returns the TLS settings shared by every connection of the
// identity self. Its certificate check needs nothing of the connection (one
// identity certificate, not our own key); startTLS takes the peer's key
// from the certificate afterwards and compares it with the one expected.
// Sharing it saves a clone of the configuration per session (2.5 KiB that
// crypto/tls keeps for the connection's life).
func newTLSBase(cert tls.Certificate, self ed25519.PublicKey) *tls.Config {
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
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := checkPeerCert(raw, self, nil, "")
			return err
		},
	}
}

// checkPeerCert returns the key of a peer's certificate chain, refusing
// anything but one identity certificate, our own key (ErrSelf), and, if
// expect is set, any other key than expect.
func checkPeerCert(raw [][]byte, self, expect ed25519.PublicKey, name string) (ed25519.PublicKey, error) {
	key, err := identity.PeerKeyFromCerts(raw)
	if err != nil {
		return nil, err
	}
	return key, checkPeerKey(key, self, expect, name)
}

// checkPeerKey refuses our own key (ErrSelf) and, if expect is set, any
// other key than expect.
func checkPeerKey(key, self, expect ed25519.PublicKey, name string) error {
	if key.Equal(self) {
		return ErrSelf
	}
	if expect != nil && !key.Equal(expect) {
		return &KeyMismatchError{Name: name, Want: expect, Got: key}
	}
	return nil
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
// checked in the handshake when we are the TLS client: a wrong server
// certificate is refused before our own is sent, so an impostor does not
// even learn who called. That check needs the connection's expected key,
// so only that case clones the shared configuration; in every other case
// the server's certificate went first anyway, and the key is compared
// once the handshake is done.
func (l *link) startTLS(p handshakeParams, client bool) error {
	cfg := p.tlsBase
	if client && p.expectKey != nil {
		cfg = p.tlsBase.Clone()
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := checkPeerCert(raw, p.self.Public, p.expectKey, p.expectName)
			return err
		}
	}
	if client {
		l.tls = tls.Client(l.dc, cfg)
	} else {
		l.tls = tls.Server(l.dc, cfg)
	}
	if err := l.tls.Handshake(); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	st := l.tls.ConnectionState()
	// crypto/tls parsed the chain VerifyPeerCertificate accepted (it runs
	// in both roles, as the server requires a client certificate); be sure.
	var key ed25519.PublicKey
	if len(st.PeerCertificates) == 1 {
		key, _ = st.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	}
	if key == nil {
		return fmt.Errorf("tls handshake: %w: no peer certificate", ErrProtocol)
	}
	if err := checkPeerKey(key, p.self.Public, p.expectKey, p.expectName); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	l.peerKey = key
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
