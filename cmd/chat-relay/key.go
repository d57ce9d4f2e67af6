package main

import (
	"crypto/ed25519"

	"github.com/p2pchat/p2pchat/daemon/identity"
)

// loadOrCreateKey reads the relay's Ed25519 key from path, or makes one
// there on first start, with chatd's rules (package daemon/identity): one
// PEM PKCS#8 block, 0600 in a 0700 directory, refused when group or others
// can read it (ErrInsecurePermissions).
func loadOrCreateKey(path string) (ed25519.PrivateKey, bool, error) {
	id, created, err := identity.LoadOrCreateFile(path)
	if err != nil {
		return nil, false, err
	}
	return id.Private, created, nil
}
