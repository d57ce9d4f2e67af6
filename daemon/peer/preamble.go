package peer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// The preamble is all that goes before TLS, and it names no one: the
// magic and a random tie-break nonce. Who is talking is said only inside
// TLS 1.3, whose certificates are encrypted, so an observer on the path
// learns neither key (version 1 of the preamble sent the public key in the
// clear, and the tracker maps keys to names publicly).
//
// The nonces fix the TLS roles. After a TCP simultaneous open (a hole
// punch) both sides think they dialled, so who dialled cannot decide; the
// side whose nonce is larger runs the TLS client, as in libp2p's
// simultaneous-open extension. The same rule serves the ordinary case, so
// there is one rule. Equal nonces (only a connection that echoes what we
// send, in practice) close the connection; a dialler tries again after its
// backoff.
//
// What this does not hide: anyone who connects to our port can take the
// client role (a large nonce) and read our certificate, as the TLS server
// shows its certificate first. That tells a prober no more than the
// tracker already publishes (name, key and addresses); what is gone is
// the passive observer's view of who talks to whom.

const (
	// Magic starts the preamble; it names the preamble's version.
	Magic = "P2PCHAT2"
	// oldMagic started version 1 (magic and public key), refused.
	oldMagic    = "P2PCHAT1"
	nonceSize   = 32
	preambleLen = len(Magic) + nonceSize
)

// nonce is one side's tie-break value.
type nonce [nonceSize]byte

// errTie: both nonces were equal, so neither side can take a TLS role.
var errTie = errors.New("equal tie-break nonces")

func newNonce() nonce {
	var n nonce
	rand.Read(n[:]) // never fails (crypto/rand crashes the program instead)
	return n
}

// appendPreamble appends the preamble that carries n.
func appendPreamble(b []byte, n nonce) []byte {
	return append(append(b, Magic...), n[:]...)
}

// readPreamble reads the peer's preamble and returns its nonce. The magic
// is read first, so a stranger speaking another protocol is turned away
// after 8 bytes.
func readPreamble(r io.Reader) (nonce, error) {
	var magic [len(Magic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nonce{}, preambleReadError(err)
	}
	switch string(magic[:]) {
	case Magic:
	case oldMagic:
		// Read its key too: the old peer then sees our preamble and a
		// clean close, not a reset, and logs why.
		io.ReadFull(r, make([]byte, ed25519.PublicKeySize))
		return nonce{}, ErrOldPreamble
	default:
		return nonce{}, fmt.Errorf("%w: starts with %q", ErrNotPeer, magic[:])
	}
	var n nonce
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nonce{}, preambleReadError(err)
	}
	return n, nil
}

func preambleReadError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: connection closed early", ErrNotPeer)
	}
	return err
}

// weAreTLSClient applies the role rule: the larger nonce is the client.
func weAreTLSClient(ours, theirs nonce) (bool, error) {
	switch bytes.Compare(ours[:], theirs[:]) {
	case 1:
		return true, nil
	case -1:
		return false, nil
	}
	return false, errTie
}

// exchangePreamble sends ours, reads theirs and says whether we run the
// TLS client. Both sides write first: 40 bytes always fit in the socket
// buffer, so this cannot deadlock.
func exchangePreamble(rw io.ReadWriter, self ed25519.PublicKey) (client bool, err error) {
	ours := newNonce()
	release := ownNonces.hold(self, ours)
	if _, err := rw.Write(appendPreamble(nil, ours)); err != nil {
		release()
		return false, fmt.Errorf("send preamble: %w", err)
	}
	theirs, err := readPreamble(rw)
	if err != nil {
		release()
		return false, fmt.Errorf("read preamble: %w", err)
	}
	if client, err = weAreTLSClient(ours, theirs); err != nil {
		release()
		return false, fmt.Errorf("read preamble: %w", err)
	}
	if ownNonces.has(self, theirs) {
		// Our own dial reached our own listener. The other end may
		// not have looked yet: keep our nonce a while, so it sees
		// ErrSelf too rather than a connection we closed.
		time.AfterFunc(selfLinger, release)
		return false, ErrSelf
	}
	release()
	return client, nil
}

// selfLinger is how long a nonce stays known after a connection to
// ourselves was found.
const selfLinger = time.Second

// ownNonces holds, per identity, the nonces of this process's handshakes
// still in their preamble: a connection from ourselves to ourselves is
// then known before TLS, on both ends. Another process with our key is
// caught by its certificate instead (see startTLS).
var ownNonces = nonceSet{m: make(map[nonceKey]struct{})}

type nonceKey struct {
	self string // the identity's public key
	n    nonce
}

type nonceSet struct {
	mu sync.Mutex
	m  map[nonceKey]struct{} // guarded by mu
}

// hold adds n for self and returns the func that removes it.
func (s *nonceSet) hold(self ed25519.PublicKey, n nonce) func() {
	k := nonceKey{string(self), n}
	s.mu.Lock()
	s.m[k] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.m, k)
		s.mu.Unlock()
	}
}

func (s *nonceSet) has(self ed25519.PublicKey, n nonce) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[nonceKey{string(self), n}]
	return ok
}
