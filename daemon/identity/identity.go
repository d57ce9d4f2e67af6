package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
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

// fingerprintDomain separates fingerprint hashes from every other use of
// SHA-256 over a public key.
const fingerprintDomain = "p2pchat/fingerprint/v1\x00"

// Fingerprint returns the human-comparable fingerprint of pub: the first 20
// bytes of SHA-256("p2pchat/fingerprint/v1\x00" || pub) in uppercase base32
// without padding, as eight groups of four characters joined by '-'.
// It is the same definition as tracker/record.Fingerprint.
func Fingerprint(pub ed25519.PublicKey) string {
	h := sha256.New()
	h.Write([]byte(fingerprintDomain))
	h.Write(pub)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil)[:20])
	groups := make([]string, 0, len(enc)/4)
	for i := 0; i < len(enc); i += 4 {
		groups = append(groups, enc[i:i+4])
	}
	return strings.Join(groups, "-")
}
