// Package wire is the relay's framing: the few messages a client and the
// relay exchange, inside TLS, before a connection is spliced (see package
// relay for the protocol). Every frame is
//
//	version u8 (=2) || type u8 || length u16-BE || payload (length bytes)
//
// with length at most MaxPayload. Frames are read with exact reads, never
// through a buffer of their own, so the first byte after the last frame —
// the start of the relayed stream — stays in the TLS connection for
// whoever reads the stream.
//
// Version 1 sent these frames in the clear, without TLS; ReadV1 and
// V1Refusal are all that is left of it, so that each side can tell the
// other why they cannot talk.
package wire

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Version is the protocol version in every frame header.
const Version = 2

// ALPN is the TLS application protocol a client offers and the relay
// requires: the version is settled in the TLS handshake, before any frame.
const ALPN = "p2pchat-relay/2"

// HeaderSize and MaxPayload bound a frame: nothing larger is ever read.
const (
	HeaderSize = 4
	MaxPayload = 512
)

// TokenSize is the size of the token that pairs a caller with its target.
const TokenSize = 16

// Type says what a frame carries.
type Type uint8

// Frame types. C is the client, R the relay.
const (
	Reserve  Type = 1 // C→R: empty; this is a control connection for the key of the client's TLS certificate
	Reserved Type = 2 // R→C: keepalive interval in ms (u32-BE)
	Ping     Type = 3 // either way on a control connection: empty
	Pong     Type = 4 // the answer to a Ping: empty
	Incoming Type = 5 // R→C: token (16) || caller's observed "ip:port"
	Connect  Type = 6 // C→R: target key (32)
	Accept   Type = 7 // C→R: token (16)
	OK       Type = 8 // R→C: empty; the next byte is the relayed stream
	Error    Type = 9 // R→C: code, then optionally ' ' and a detail
	maxType  Type = Error
)

var typeNames = [...]string{"", "reserve", "reserved", "ping", "pong", "incoming", "connect", "accept", "ok", "error"}

func (t Type) String() string {
	if t == 0 || t > maxType {
		return fmt.Sprintf("type(%d)", uint8(t))
	}
	return typeNames[t]
}

// Decoding errors.
var (
	ErrVersion   = errors.New("unsupported protocol version")
	ErrTooLarge  = errors.New("frame too large")
	ErrType      = errors.New("unknown frame type")
	ErrMalformed = errors.New("malformed frame")
)

// Frame is one decoded frame.
type Frame struct {
	Type    Type
	Payload []byte
}

// Append appends the encoding of a frame to b. It panics on a payload over
// MaxPayload: that is a bug in the sender, never input.
func Append(b []byte, t Type, payload []byte) []byte {
	if len(payload) > MaxPayload {
		panic(fmt.Sprintf("wire: %v payload of %d bytes", t, len(payload)))
	}
	b = append(b, Version, byte(t))
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return append(b, payload...)
}

// Write sends one frame in a single Write.
func Write(w io.Writer, t Type, payload []byte) error {
	if _, err := w.Write(Append(make([]byte, 0, HeaderSize+len(payload)), t, payload)); err != nil {
		return fmt.Errorf("write %v frame: %w", t, err)
	}
	return nil
}

// Read reads exactly one frame from r.
func Read(r io.Reader) (Frame, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, fmt.Errorf("read frame header: %w", err)
	}
	t, n, err := parseHeader(h)
	if err != nil {
		return Frame{}, fmt.Errorf("read frame: %w", err)
	}
	f := Frame{Type: t, Payload: make([]byte, n)}
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return Frame{}, fmt.Errorf("read %v frame payload: %w", t, err)
	}
	return f, nil
}

func parseHeader(h [HeaderSize]byte) (Type, int, error) {
	if h[0] != Version {
		return 0, 0, fmt.Errorf("%w %d (want %d)", ErrVersion, h[0], Version)
	}
	t := Type(h[1])
	if t == 0 || t > maxType {
		return 0, 0, fmt.Errorf("%w %d", ErrType, h[1])
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n > MaxPayload {
		return 0, 0, fmt.Errorf("%w: %v frame of %d bytes, at most %d", ErrTooLarge, t, n, MaxPayload)
	}
	return t, n, nil
}

// Expect checks that f has type t, turning an Error frame into a
// *RefusedError and anything else into ErrMalformed.
func Expect(f Frame, t Type) error {
	if f.Type == t {
		return nil
	}
	if f.Type == Error {
		return ParseError(f.Payload)
	}
	return fmt.Errorf("%w: got %v, want %v", ErrMalformed, f.Type, t)
}

// ReservedMsg completes a reservation: the relay holds it, and asks for a
// ping every KeepAliveMS.
type ReservedMsg struct {
	KeepAliveMS uint32
}

func (m ReservedMsg) Encode() []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), m.KeepAliveMS)
}

func ParseReserved(p []byte) (ReservedMsg, error) {
	if len(p) != 4 {
		return ReservedMsg{}, fmt.Errorf("parse reserved: %w: %d bytes", ErrMalformed, len(p))
	}
	return ReservedMsg{KeepAliveMS: binary.BigEndian.Uint32(p)}, nil
}

// Token pairs a caller's connection with the target's.
type Token [TokenSize]byte

// IncomingMsg tells a reservation holder that someone wants to reach it.
type IncomingMsg struct {
	Token Token
	From  netip.AddrPort
}

func (m IncomingMsg) Encode() []byte {
	return append(append(make([]byte, 0, 64), m.Token[:]...), m.From.String()...)
}

func ParseIncoming(p []byte) (IncomingMsg, error) {
	if len(p) < TokenSize {
		return IncomingMsg{}, fmt.Errorf("parse incoming: %w: %d bytes", ErrMalformed, len(p))
	}
	var m IncomingMsg
	copy(m.Token[:], p)
	from, err := netip.ParseAddrPort(string(p[TokenSize:]))
	if err != nil {
		return IncomingMsg{}, fmt.Errorf("parse incoming: %w: address: %v", ErrMalformed, err)
	}
	m.From = from
	return m, nil
}

// ParseConnect returns the target key of a Connect frame.
func ParseConnect(p []byte) (ed25519.PublicKey, error) {
	if len(p) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("parse connect: %w: %d bytes", ErrMalformed, len(p))
	}
	return ed25519.PublicKey(p), nil
}

// ParseAccept returns the token of an Accept frame.
func ParseAccept(p []byte) (Token, error) {
	var t Token
	if len(p) != TokenSize {
		return t, fmt.Errorf("parse accept: %w: %d bytes", ErrMalformed, len(p))
	}
	copy(t[:], p)
	return t, nil
}

// Error codes. A refusal names one; a limit adds which one as the detail.
const (
	CodeNoReservation = "no_reservation" // the target holds no reservation here
	CodeTimeout       = "timeout"        // the target did not accept within the join timeout
	CodeLimit         = "limit"          // a limit was reached; the detail names it
	CodeAuth          = "auth"           // a reservation without a client certificate
	CodeUnknownToken  = "unknown_token"  // an accept for no pending join (late or forged)
	CodeBadRequest    = "bad_request"    // a frame the relay did not expect
	CodeReplaced      = "replaced"       // a newer reservation for the same key took over
	CodeShutdown      = "shutdown"       // the relay is stopping
	CodeVersion       = "version"        // the client speaks another protocol version (sent in version 1's format)
)

// RefusedError is an Error frame from the relay.
type RefusedError struct {
	Code   string
	Detail string
}

func (e *RefusedError) Error() string {
	if e.Detail == "" {
		return "relay refused: " + e.Code
	}
	return "relay refused: " + e.Code + " (" + e.Detail + ")"
}

// ErrorPayload encodes an Error frame's payload.
func ErrorPayload(code, detail string) []byte {
	if detail == "" {
		return []byte(code)
	}
	return []byte(code + " " + detail)
}

// ParseError decodes an Error frame's payload. A code is lowercase ASCII
// letters and '_'; the detail is printable ASCII.
func ParseError(p []byte) error {
	code, detail, spaced := strings.Cut(string(p), " ")
	if code == "" || (spaced && detail == "") || strings.IndexFunc(code, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) >= 0 ||
		strings.IndexFunc(detail, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
		return fmt.Errorf("parse error frame: %w: %q", ErrMalformed, p)
	}
	return &RefusedError{Code: code, Detail: detail}
}

// Version 1, in the clear. A relay recognises a version-1 client by its
// first byte (a TLS connection starts with 22, a handshake record) and
// answers with V1Refusal, which that client reads as a refusal and logs.
// A version-1 relay answers a TLS ClientHello with a version-1 error
// frame, which a client reads with ReadV1.
const (
	V1       = 1  // version 1's version byte
	v1Error  = 11 // version 1's Error frame type
	v1MaxTyp = 11
)

// v1RefusalDetail tells a version-1 client, in its own log, what to do.
const v1RefusalDetail = "this relay speaks protocol 2 (TLS): upgrade chatd"

// V1Refusal is the version-1 error frame that refuses a version-1 client.
func V1Refusal() []byte {
	p := ErrorPayload(CodeVersion, v1RefusalDetail)
	b := append(make([]byte, 0, HeaderSize+len(p)), V1, v1Error)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	return append(b, p...)
}

// ReadV1 reads one version-1 frame from r. Its Type is version 1's
// numbering, where IsV1Error tells the one frame that matters.
func ReadV1(r io.Reader) (Frame, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, fmt.Errorf("read version 1 frame header: %w", err)
	}
	if h[0] != V1 {
		return Frame{}, fmt.Errorf("read version 1 frame: %w %d", ErrVersion, h[0])
	}
	if h[1] == 0 || h[1] > v1MaxTyp {
		return Frame{}, fmt.Errorf("read version 1 frame: %w %d", ErrType, h[1])
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("read version 1 frame: %w: %d bytes, at most %d", ErrTooLarge, n, MaxPayload)
	}
	f := Frame{Type: Type(h[1]), Payload: make([]byte, n)}
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return Frame{}, fmt.Errorf("read version 1 frame payload: %w", err)
	}
	return f, nil
}

// IsV1Error says whether a frame ReadV1 returned is version 1's Error.
func IsV1Error(f Frame) bool { return f.Type == v1Error }
