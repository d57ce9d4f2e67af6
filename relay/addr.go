package relay

import (
	"crypto/ed25519"
	"fmt"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// Addr is where a relay listens and the key it proves it holds. It is
// published in a user's record as "relay://HOST:PORT/KEY" (see
// record.ParseRelayAddr, the one parser of that form).
type Addr struct {
	HostPort string
	Key      ed25519.PublicKey
}

// ParseAddr parses "relay://HOST:PORT/KEY".
func ParseAddr(s string) (Addr, error) {
	hp, key, err := record.ParseRelayAddr(s)
	if err != nil {
		return Addr{}, fmt.Errorf("parse relay address: %w", err)
	}
	return Addr{HostPort: hp, Key: key}, nil
}

// String returns the address in its canonical "relay://HOST:PORT/KEY" form.
func (a Addr) String() string { return record.FormatRelayAddr(a.HostPort, a.Key) }
