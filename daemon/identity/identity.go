package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// Errors LoadOrCreate returns for cases the caller reports to the user.
var (
	// ErrInsecurePermissions: the key file is accessible to group or others.
	ErrInsecurePermissions = errors.New("identity key file is accessible to other users")
	// ErrCorrupt: the key file exists but does not hold a valid key.
	ErrCorrupt = errors.New("identity key file is corrupt")
)

// Identity is a user's key pair.
type Identity struct {
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// Generate makes a fresh identity from rand (crypto/rand.Reader when nil).
// LoadOrCreate is what chatd uses; Generate is for tests and tools that
// need a key that is not stored.
func Generate(r io.Reader) (*Identity, error) {
	if r == nil {
		r = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("generate identity key: %w", err)
	}
	return &Identity{Private: priv, Public: pub}, nil
}

// Fingerprint returns the string people compare out of band to check this
// identity's public key (see Fingerprint).
func (id *Identity) Fingerprint() string { return Fingerprint(id.Public) }

// Fingerprint returns the human-comparable fingerprint of pub, as defined
// by tracker/record.Fingerprint (the one definition both tracker and
// daemon use): eight groups of four base32 characters of a hash of pub.
func Fingerprint(pub ed25519.PublicKey) string { return record.Fingerprint(pub) }
