// Package identity holds chatd's long-term Ed25519 key: the key that signs
// the user's tracker records and authenticates every peer session.
//
// On first start LoadOrCreate makes a key and stores it in dir/identity.key;
// later starts load it:
//
//	id, created, err := identity.LoadOrCreate(dataDir)
//	if err != nil { ... } // ErrInsecurePermissions, ErrCorrupt: say so and stop
//	fmt.Println(id.Fingerprint())
//
// # Key file format
//
// identity.key is a single PEM block of type "PRIVATE KEY" holding the
// PKCS#8 (RFC 8410) encoding of the Ed25519 private key, the same format
// `openssl genpkey -algorithm ed25519` writes, so standard tools can inspect
// it. The file is created with mode 0600 inside a 0700 directory, written to
// a temporary file, synced and then linked into place, so a crash never
// leaves a half-written key behind and an existing key — even one that
// fails to parse — is never overwritten. A key file that group or others
// may read or write is refused (ErrInsecurePermissions): a leaked key lets
// anyone impersonate the user, so chatd stops and tells the user to
// `chmod 600` it rather than carry on.
//
// # Peer authentication
//
// Peers authenticate with TLS 1.3 using a self-signed certificate made from
// the identity key (TLSCertificate). Nothing in the certificate but the key
// matters: names, dates and chains are ignored, and PeerKeyFromCerts turns
// the peer's certificate back into its Ed25519 key, which callers compare
// with the key they pinned. Both are internal/tlsident's, which the relay
// uses too, so a key is presented and checked one way everywhere.
package identity
