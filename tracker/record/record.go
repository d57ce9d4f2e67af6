package record

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Limits on a record's contents. They keep the canonical encoding's length
// prefixes in range and a record small enough for one HTTP request.
const (
	MaxNameLen    = 32  // bytes in a name
	MaxAddrs      = 16  // addresses in a record
	MaxHostLen    = 255 // bytes in the host part of an address
	SignatureSize = ed25519.SignatureSize
)

// Record is what a user publishes about themselves. The zero value is not
// valid; see Validate.
type Record struct {
	Name      string
	PublicKey ed25519.PublicKey
	Addrs     []string // "host:port" or "relay://host:port/KEY", at most MaxAddrs
	Seq       uint64
	// Expires is signed and transmitted as whole Unix seconds; any fraction is
	// dropped (Sign normalises it).
	Expires time.Time
}

// Signed is a Record with its owner's signature over Record.Canonical.
type Signed struct {
	Record
	Signature []byte
}

// ValidateName reports whether name is a valid user name: 1 to 32 bytes, a
// lowercase ASCII letter followed by lowercase letters, digits, '_' or '-'
// (^[a-z][a-z0-9_-]{0,31}$). The error wraps ErrBadName.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return fmt.Errorf("%w %s: must be 1 to %d characters", ErrBadName, quoteShort(name), MaxNameLen)
	}
	if c := name[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("%w %s: must start with a lowercase letter a-z", ErrBadName, quoteShort(name))
	}
	for i := 1; i < len(name); i++ {
		if !nameByte(name[i]) {
			return fmt.Errorf("%w %s: only lowercase letters, digits, '_' and '-' are allowed", ErrBadName, quoteShort(name))
		}
	}
	return nil
}

func nameByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
}

// quoteShort quotes s for an error message, cut short so that a hostile
// megabyte-long name does not end up in a log line.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// Validate checks everything about r that does not need a signature: the
// name, a usable key (see ValidatePublicKey), 0 to MaxAddrs valid addresses and an expiry after the
// Unix epoch. It does not compare Expires with the clock; that is policy and
// belongs to whoever accepts the record.
func (r Record) Validate() error { return r.validate(true) }

// validate is Validate; without checkKey it checks only the key's length
// (for a key known to have passed ValidatePublicKey: see VerifyKnownKey).
func (r Record) validate(checkKey bool) error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	check := ValidatePublicKey
	if !checkKey {
		check = checkKeyLength
	}
	if err := check(r.PublicKey); err != nil {
		return fmt.Errorf("public_key: %w", err)
	}
	if len(r.Addrs) > MaxAddrs {
		return fmt.Errorf("%w: %d addrs, at most %d allowed", ErrBadAddr, len(r.Addrs), MaxAddrs)
	}
	for _, a := range r.Addrs {
		if err := ValidateAddr(a); err != nil {
			return err
		}
	}
	if r.Expires.Unix() <= 0 {
		return fmt.Errorf("%w: expires must be set to a time after 1970", ErrBadExpiry)
	}
	return nil
}

// ValidateAddr checks one address: either "host:port" — a non-empty host of
// at most MaxHostLen printable ASCII bytes and a decimal port 1-65535;
// hosts may be names or IP literals ("[2001:db8::1]:7000") and are not
// resolved — or a relay address "relay://host:port/KEY" (see
// ParseRelayAddr). The error wraps ErrBadAddr.
func ValidateAddr(addr string) error {
	if IsRelayAddr(addr) {
		_, _, err := ParseRelayAddr(addr)
		return err
	}
	if err := validateHostPort(addr); err != nil {
		return fmt.Errorf("%w %s: %v", ErrBadAddr, quoteShort(addr), err)
	}
	return nil
}

// validateHostPort holds the host:port rules shared by direct and relay
// addresses; its errors are bare reasons for the caller to wrap.
func validateHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || len(host) > MaxHostLen {
		return fmt.Errorf("host must be 1 to %d bytes", MaxHostLen)
	}
	for i := 0; i < len(host); i++ {
		if host[i] <= ' ' || host[i] > '~' {
			return errors.New("host must be printable ASCII")
		}
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return errors.New("port must be a number 1-65535")
	}
	return nil
}
