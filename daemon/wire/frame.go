package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Limits of the protocol. Both sides enforce them: a sender refuses to
// encode a frame over a limit and a receiver refuses to decode one.
const (
	HeaderLen   = 5                // type + length
	MaxFrame    = 128 << 10        // largest payload
	MaxBody     = api.MaxBodyBytes // largest message body (the control API declares it)
	MaxName     = 64               // longest user name in a Hello, in bytes
	MaxVersions = 16               // most versions a Hello lists
	MaxAckIDs   = 4096             // most IDs in one Ack
	MaxReason   = 256              // longest Bye reason, in bytes
	MaxAddrs    = 16               // most addresses in a Connect
	MaxAddrLen  = 300              // longest address in a Connect, in bytes
	msgFixedLen = 16 + 8           // id + sentAt
	idLen       = 16
)

// Type identifies a frame's payload layout.
type Type uint8

// Frame types.
const (
	TypeHello Type = 1
	TypeMsg   Type = 2
	TypeAck   Type = 3
	TypePing  Type = 4
	TypePong  Type = 5
	TypeBye   Type = 6
	// Version 2:
	TypeConnect Type = 7
	TypeSync    Type = 8
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeMsg:
		return "msg"
	case TypeAck:
		return "ack"
	case TypePing:
		return "ping"
	case TypePong:
		return "pong"
	case TypeBye:
		return "bye"
	case TypeConnect:
		return "connect"
	case TypeSync:
		return "sync"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Errors of encoding and decoding; decoding errors wrap them with detail.
var (
	ErrFrameTooLarge = errors.New("frame too large")
	ErrBodyTooLarge  = fmt.Errorf("message body larger than %d bytes", MaxBody)
	ErrMalformed     = errors.New("malformed frame")
	ErrUnknownType   = errors.New("unknown frame type")
)

// Frame is one of Hello, Msg, Ack, Ping, Pong, Bye, Connect and Sync.
type Frame interface {
	Type() Type
	// payloadLen returns the encoded payload length, or an error if the
	// frame breaks a limit.
	payloadLen() (int, error)
	appendPayload(b []byte) []byte
}

// Hello opens a session: the versions the sender speaks and who it is.
type Hello struct {
	Versions []uint16
	Features uint64 // bit set of optional features; none are defined yet
	Name     string
}

// Msg is one chat message.
type Msg struct {
	ID     [16]byte
	SentAt time.Time // the sender's clock; the zero Time means unknown
	Body   []byte
}

// Ack says the sender has durably stored the messages with these IDs.
type Ack struct{ IDs [][16]byte }

// Ping asks for a Pong with the same nonce.
type Ping struct{ Nonce uint64 }

// Pong answers a Ping.
type Pong struct{ Nonce uint64 }

// Bye announces that the sender closes the session, and why.
type Bye struct{ Reason string }

// Connect offers the sender's direct addresses (host:port, as in its
// record, including the address the tracker observes) so the two sides of
// a relayed session can try a direct connection; the receiver answers with
// its own, and the round trip between the two is the RTT that times Sync.
// DialMe says the sender can be dialled (the tracker's dial-back got
// through, or its router forwards the port): the receiver should try to
// connect to it at once (connection reversal). A receiver must not dial
// otherwise: a stray SYN that a NAT lets in before the other side's own
// SYN leaves lands on its listener and blocks the punch.
type Connect struct {
	DialMe bool
	Addrs  []string
}

// Sync tells the receiver to dial the addresses it was offered now; the
// sender dials after half a round trip, so both SYNs cross the NATs at
// about the same time.
type Sync struct{}

func (Hello) Type() Type   { return TypeHello }
func (Msg) Type() Type     { return TypeMsg }
func (Ack) Type() Type     { return TypeAck }
func (Ping) Type() Type    { return TypePing }
func (Pong) Type() Type    { return TypePong }
func (Bye) Type() Type     { return TypeBye }
func (Connect) Type() Type { return TypeConnect }
func (Sync) Type() Type    { return TypeSync }

// CheckBody reports whether body may be sent in a Msg: ErrBodyTooLarge if
// not. Check at the point the user submits a message, long before sending.
func CheckBody(body []byte) error {
	if len(body) > MaxBody {
		return fmt.Errorf("%w: %d bytes", ErrBodyTooLarge, len(body))
	}
	return nil
}

func (h Hello) payloadLen() (int, error) {
	if len(h.Versions) == 0 || len(h.Versions) > MaxVersions {
		return 0, fmt.Errorf("hello lists %d versions, want 1..%d", len(h.Versions), MaxVersions)
	}
	if len(h.Name) > MaxName || !utf8.ValidString(h.Name) {
		return 0, fmt.Errorf("hello name is not UTF-8 of at most %d bytes", MaxName)
	}
	return 1 + 2*len(h.Versions) + 8 + 1 + len(h.Name), nil
}

func (h Hello) appendPayload(b []byte) []byte {
	b = append(b, byte(len(h.Versions)))
	for _, v := range h.Versions {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint64(b, h.Features)
	b = append(b, byte(len(h.Name)))
	return append(b, h.Name...)
}

func (m Msg) payloadLen() (int, error) {
	if err := CheckBody(m.Body); err != nil {
		return 0, err
	}
	return msgFixedLen + len(m.Body), nil
}

func (m Msg) appendPayload(b []byte) []byte {
	b = append(b, m.ID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(m.SentAt)))
	return append(b, m.Body...)
}

func (a Ack) payloadLen() (int, error) {
	if len(a.IDs) == 0 || len(a.IDs) > MaxAckIDs {
		return 0, fmt.Errorf("%w: ack of %d ids, want 1..%d", ErrFrameTooLarge, len(a.IDs), MaxAckIDs)
	}
	return 2 + idLen*len(a.IDs), nil
}

func (a Ack) appendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.IDs)))
	for i := range a.IDs {
		b = append(b, a.IDs[i][:]...)
	}
	return b
}

func (Ping) payloadLen() (int, error)         { return 8, nil }
func (p Ping) appendPayload(b []byte) []byte  { return binary.BigEndian.AppendUint64(b, p.Nonce) }
func (Pong) payloadLen() (int, error)         { return 8, nil }
func (p Pong) appendPayload(b []byte) []byte  { return binary.BigEndian.AppendUint64(b, p.Nonce) }
func (b Bye) appendPayload(buf []byte) []byte { return append(buf, b.Reason...) }
func (b Bye) payloadLen() (int, error) {
	if len(b.Reason) > MaxReason || !utf8.ValidString(b.Reason) {
		return 0, fmt.Errorf("bye reason is not UTF-8 of at most %d bytes", MaxReason)
	}
	return len(b.Reason), nil
}

func (c Connect) payloadLen() (int, error) {
	if len(c.Addrs) > MaxAddrs {
		return 0, fmt.Errorf("connect lists %d addresses, want at most %d", len(c.Addrs), MaxAddrs)
	}
	n := 2
	for _, a := range c.Addrs {
		if a == "" || len(a) > MaxAddrLen || !utf8.ValidString(a) {
			return 0, fmt.Errorf("connect address is not UTF-8 of 1..%d bytes", MaxAddrLen)
		}
		n += 2 + len(a)
	}
	return n, nil
}

func (c Connect) appendPayload(b []byte) []byte {
	var flags byte
	if c.DialMe {
		flags |= connectDialMe
	}
	b = append(b, flags, byte(len(c.Addrs)))
	for _, a := range c.Addrs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
		b = append(b, a...)
	}
	return b
}

// Connect flags.
const connectDialMe = 1

func (Sync) payloadLen() (int, error)      { return 0, nil }
func (Sync) appendPayload(b []byte) []byte { return b }

// unixNano maps the zero Time to 0 so "unknown" survives a round trip
// (time.Time{}.UnixNano() is out of int64 range).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// AppendFrame appends the encoding of f (header and payload) to b.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	n, err := f.payloadLen()
	if err != nil {
		return b, fmt.Errorf("encode %v: %w", f.Type(), err)
	}
	if n > MaxFrame {
		return b, fmt.Errorf("encode %v: %w: %d bytes", f.Type(), ErrFrameTooLarge, n)
	}
	b = append(b, byte(f.Type()))
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return f.appendPayload(b), nil
}
