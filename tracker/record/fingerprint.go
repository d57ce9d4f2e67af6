package record

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Fingerprint returns the string people compare out of band to check a key:
// the first 20 bytes of SHA-256("p2pchat/fingerprint/v1\x00" || pub) in
// uppercase RFC 4648 base32 without padding, as eight groups of four
// characters joined by '-' (e.g. "ABCD-EFGH-...").
func Fingerprint(pub ed25519.PublicKey) string {
	h := sha256.New()
	h.Write([]byte(fingerprintDom))
	h.Write(pub)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil)[:20])
	groups := make([]string, 0, len(enc)/4)
	for i := 0; i < len(enc); i += 4 {
		groups = append(groups, enc[i:i+4])
	}
	return strings.Join(groups, "-")
}
