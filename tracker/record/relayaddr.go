package record

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
)

// RelayScheme starts a relay address in a record's Addrs.
//
// A user who cannot be dialled publishes where they hold a reservation:
//
//	relay://HOST:PORT/KEY
//
// HOST:PORT follows the same rules as a direct address (ValidateAddr) and
// KEY is the relay's Ed25519 public key in unpadded base64url (43
// characters), which the reserving daemon checks when it connects. The
// form is canonical: FormatRelayAddr of what ParseRelayAddr returns gives
// back the input byte for byte, so a signed record never has two spellings
// of the same relay.
const RelayScheme = "relay://"

// relayKeyLen is the length of an Ed25519 key in unpadded base64url.
var relayKeyLen = base64.RawURLEncoding.EncodedLen(ed25519.PublicKeySize)

// IsRelayAddr reports whether addr is written as a relay address (it may
// still be malformed; ParseRelayAddr says).
func IsRelayAddr(addr string) bool { return strings.HasPrefix(addr, RelayScheme) }

// ParseRelayAddr splits a relay address into the relay's host:port and its
// public key. The error wraps ErrBadAddr.
func ParseRelayAddr(addr string) (hostPort string, key ed25519.PublicKey, err error) {
	rest, ok := strings.CutPrefix(addr, RelayScheme)
	if !ok {
		return "", nil, fmt.Errorf("%w %s: relay address must start with %s", ErrBadAddr, quoteShort(addr), RelayScheme)
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", nil, fmt.Errorf("%w %s: want %sHOST:PORT/KEY", ErrBadAddr, quoteShort(addr), RelayScheme)
	}
	hostPort, enc := rest[:i], rest[i+1:]
	if err := validateHostPort(hostPort); err != nil {
		return "", nil, fmt.Errorf("%w %s: %v", ErrBadAddr, quoteShort(addr), err)
	}
	if len(enc) != relayKeyLen {
		return "", nil, fmt.Errorf("%w %s: relay key must be %d base64url characters", ErrBadAddr, quoteShort(addr), relayKeyLen)
	}
	// Strict: the unused low bits of the last character must be zero, or
	// several strings would name the same key.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return "", nil, fmt.Errorf("%w %s: relay key is not unpadded base64url", ErrBadAddr, quoteShort(addr))
	}
	return hostPort, ed25519.PublicKey(raw), nil
}

// FormatRelayAddr writes the relay address of a relay listening at
// hostPort with the given key. It does not validate; ParseRelayAddr of the
// result succeeds when hostPort passes ValidateAddr and key is 32 bytes.
func FormatRelayAddr(hostPort string, key ed25519.PublicKey) string {
	return RelayScheme + hostPort + "/" + base64.RawURLEncoding.EncodeToString(key)
}
