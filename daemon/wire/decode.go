package wire

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Decode decodes a payload of type t. own says whether the caller hands
// over p: if not, byte slices in the result are copied out of p.
func decode(t Type, p []byte, own bool) (Frame, error) {
	switch t {
	case TypeHello:
		return decodeHello(p)
	case TypeMsg:
		return decodeMsg(p, own)
	case TypeAck:
		return decodeAck(p)
	case TypePing:
		n, err := decodeNonce(t, p)
		return Ping{Nonce: n}, err
	case TypePong:
		n, err := decodeNonce(t, p)
		return Pong{Nonce: n}, err
	case TypeBye:
		return decodeBye(p)
	case TypeConnect:
		return decodeConnect(p)
	case TypeSync:
		if len(p) != 0 {
			return nil, malformed(t, "%d bytes, want none", len(p))
		}
		return Sync{}, nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownType, uint8(t))
}

func malformed(t Type, format string, args ...any) error {
	return fmt.Errorf("%w: %v: %s", ErrMalformed, t, fmt.Sprintf(format, args...))
}

func decodeHello(p []byte) (Frame, error) {
	if len(p) < 1 {
		return nil, malformed(TypeHello, "empty")
	}
	n := int(p[0])
	if n == 0 || n > MaxVersions {
		return nil, malformed(TypeHello, "%d versions, want 1..%d", n, MaxVersions)
	}
	fixed := 1 + 2*n + 8 + 1
	if len(p) < fixed {
		return nil, malformed(TypeHello, "%d bytes, want at least %d", len(p), fixed)
	}
	h := Hello{Versions: make([]uint16, n)}
	for i := range h.Versions {
		h.Versions[i] = binary.BigEndian.Uint16(p[1+2*i:])
	}
	h.Features = binary.BigEndian.Uint64(p[1+2*n:])
	nameLen := int(p[fixed-1])
	name := p[fixed:]
	if len(name) != nameLen {
		return nil, malformed(TypeHello, "name is %d bytes, header says %d", len(name), nameLen)
	}
	if nameLen > MaxName || !utf8.Valid(name) {
		return nil, malformed(TypeHello, "name is not UTF-8 of at most %d bytes", MaxName)
	}
	h.Name = string(name)
	return h, nil
}

func decodeMsg(p []byte, own bool) (Frame, error) {
	if len(p) < msgFixedLen {
		return nil, malformed(TypeMsg, "%d bytes, want at least %d", len(p), msgFixedLen)
	}
	body := p[msgFixedLen:]
	if len(body) > MaxBody {
		return nil, malformed(TypeMsg, "body of %d bytes exceeds %d", len(body), MaxBody)
	}
	var m Msg
	copy(m.ID[:], p)
	if ns := int64(binary.BigEndian.Uint64(p[idLen:])); ns != 0 {
		m.SentAt = time.Unix(0, ns).UTC()
	}
	if own {
		m.Body = body
	} else {
		m.Body = append(make([]byte, 0, len(body)), body...)
	}
	return m, nil
}

func decodeAck(p []byte) (Frame, error) {
	if len(p) < 2 {
		return nil, malformed(TypeAck, "%d bytes, want at least 2", len(p))
	}
	n := int(binary.BigEndian.Uint16(p))
	if n == 0 || n > MaxAckIDs {
		return nil, malformed(TypeAck, "%d ids, want 1..%d", n, MaxAckIDs)
	}
	if len(p) != 2+idLen*n {
		return nil, malformed(TypeAck, "%d bytes for %d ids", len(p), n)
	}
	a := Ack{IDs: make([][16]byte, n)}
	for i := range a.IDs {
		copy(a.IDs[i][:], p[2+idLen*i:])
	}
	return a, nil
}

func decodeNonce(t Type, p []byte) (uint64, error) {
	if len(p) != 8 {
		return 0, malformed(t, "%d bytes, want 8", len(p))
	}
	return binary.BigEndian.Uint64(p), nil
}

func decodeBye(p []byte) (Frame, error) {
	if len(p) > MaxReason || !utf8.Valid(p) {
		return nil, malformed(TypeBye, "reason is not UTF-8 of at most %d bytes", MaxReason)
	}
	return Bye{Reason: string(p)}, nil
}

func decodeConnect(p []byte) (Frame, error) {
	if len(p) < 2 {
		return nil, malformed(TypeConnect, "%d bytes, want at least 2", len(p))
	}
	if p[0]&^connectDialMe != 0 {
		return nil, malformed(TypeConnect, "unknown flags %#x", p[0])
	}
	n := int(p[1])
	if n > MaxAddrs {
		return nil, malformed(TypeConnect, "%d addresses, want at most %d", n, MaxAddrs)
	}
	c := Connect{DialMe: p[0]&connectDialMe != 0, Addrs: make([]string, 0, n)}
	rest := p[2:]
	for range n {
		if len(rest) < 2 {
			return nil, malformed(TypeConnect, "truncated address length")
		}
		l := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if l == 0 || l > MaxAddrLen || l > len(rest) || !utf8.Valid(rest[:l]) {
			return nil, malformed(TypeConnect, "address is not UTF-8 of 1..%d bytes", MaxAddrLen)
		}
		c.Addrs = append(c.Addrs, string(rest[:l]))
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, malformed(TypeConnect, "%d bytes after the addresses", len(rest))
	}
	return c, nil
}
