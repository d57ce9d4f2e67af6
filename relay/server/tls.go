package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/tlsident"
	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// tlsRecordHandshake is the first byte of every TLS connection (a
// handshake record); version 1 of the protocol started with its version
// byte, wire.V1, instead.
const tlsRecordHandshake = 22

// newTLSConfig is the relay's side of every connection: TLS 1.3 only, the
// certificate made from the relay's key (the KEY of its address), and a
// client certificate asked for but not required. A reserving client sends
// its identity certificate, whose key the reservation is for; callers and
// joining targets send none.
func newTLSConfig(key ed25519.PrivateKey) (*tls.Config, error) {
	cert, err := tlsident.Certificate(key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		NextProtos:   []string{wire.ALPN},
		ClientAuth:   tls.RequestClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil
			}
			_, err := tlsident.PeerKey(raw)
			return err
		},
		// Resumption would save a handshake per connection, but its
		// ticket travels in the clear and links a client's connections.
		SessionTicketsDisabled: true,
	}, nil
}

// clientKey is the key of the certificate a client showed, or nil.
// VerifyPeerCertificate has checked that it is an identity certificate.
func clientKey(c *tls.Conn) ed25519.PublicKey {
	certs := c.ConnectionState().PeerCertificates
	if len(certs) != 1 {
		return nil
	}
	k, _ := certs[0].PublicKey.(ed25519.PublicKey)
	return k
}

// startTLS reads the connection's first byte: a TLS handshake goes on to
// the handshake, a version-1 client is told it must upgrade. It returns
// nil when the connection is done with.
func (s *Server) startTLS(c net.Conn, src netip.AddrPort) *tls.Conn {
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		s.readFailed(c, src, err)
		return nil
	}
	switch first[0] {
	case tlsRecordHandshake:
	case wire.V1:
		s.refuseV1(c, src, first[0])
		return nil
	default:
		s.m.refusals.WithLabelValues(RefusedBadRequest).Inc()
		s.log.Debug("relay refused: not TLS", zap.Stringer("from", src), zap.Uint8("first_byte", first[0]))
		return nil
	}
	tc := tls.Server(&prefixConn{Conn: c, first: first[0]}, s.tls)
	if err := tc.Handshake(); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			s.m.refusals.WithLabelValues(RefusedHandshakeTimeout).Inc()
		} else {
			s.m.refusals.WithLabelValues(RefusedTLS).Inc()
		}
		s.log.Debug("relay TLS handshake failed", zap.Stringer("from", src), zap.Error(err))
		return nil
	}
	if tc.ConnectionState().NegotiatedProtocol != wire.ALPN {
		s.m.refusals.WithLabelValues(RefusedTLS).Inc()
		s.log.Debug("relay refused: no ALPN", zap.Stringer("from", src))
		return nil
	}
	return tc
}

// refuseV1 answers a version-1 client in the one frame it understands,
// after reading what it sent (so that our close is not a reset that could
// overtake the answer), and logs it: at most one info line a minute, with
// the count, the rest at debug level, as anyone can send version 1.
func (s *Server) refuseV1(c net.Conn, src netip.AddrPort, first byte) {
	s.m.refusals.WithLabelValues(RefusedOldVersion).Inc()
	wire.ReadV1(io.MultiReader(bytes.NewReader([]byte{first}), c)) //nolint:errcheck // refused whatever it was
	c.Write(wire.V1Refusal())                                      //nolint:errcheck // closing anyway
	n, report := s.oldClients.Tick(time.Now())
	fields := []zap.Field{zap.Stringer("from", src), zap.String("hint", "the client's chatd must be upgraded")}
	if report {
		s.log.Info("refused a relay protocol 1 client", append(fields, zap.Int("since_last_line", n))...)
	} else {
		s.log.Debug("refused a relay protocol 1 client", fields...)
	}
}

// prefixConn gives back the byte startTLS read before crypto/tls reads
// the rest.
type prefixConn struct {
	net.Conn
	first byte
	read  bool
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.read || len(b) == 0 {
		return p.Conn.Read(b)
	}
	p.read = true
	b[0] = p.first
	return 1, nil
}
