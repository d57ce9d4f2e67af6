package peer

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/p2pchat/p2pchat/daemon/identity"
)

// Errors of session setup and teardown, for callers that branch on them.
var (
	// ErrKeyMismatch: the peer proved a key other than the one expected.
	// The concrete error is a *KeyMismatchError.
	ErrKeyMismatch = errors.New("peer key mismatch")
	// ErrNotPeer: the other end did not start with the p2pchat preamble.
	ErrNotPeer = errors.New("not a p2pchat peer")
	// ErrOldPreamble: the other end speaks the first preamble
	// (P2PCHAT1), which sent the public key in the clear: a chatd too
	// old to talk to.
	ErrOldPreamble = errors.New("peer sent the old P2PCHAT1 preamble (an older chatd, which shows its key on the wire): refused, it must upgrade")
	// ErrSelf: the other end has our own key.
	ErrSelf = errors.New("connected to ourselves")
	// ErrNameMismatch: the dialled peer has the expected key but calls
	// itself by another name.
	ErrNameMismatch = errors.New("peer name mismatch")
	// ErrProtocol: the peer broke the protocol (a frame out of place).
	ErrProtocol = errors.New("protocol violation")
	// ErrClosed: the Manager is closed or not running.
	ErrClosed = errors.New("peer manager closed")

	errIdle          = errors.New("idle")
	errNoAddress     = errors.New("no address to try")
	errReplaced      = errors.New("replaced by a newer duplicate session")
	errDuplicate     = errors.New("duplicate session")
	errShutdown      = errors.New("shutting down")
	errNotAuthorized = errors.New("not authorized")
	errBackpressure  = errors.New("peer does not read our frames")
)

// KeyMismatchError says which key was expected for a peer and which one it
// presented, as fingerprints people can compare.
type KeyMismatchError struct {
	Name      string
	Want, Got ed25519.PublicKey
}

func (e *KeyMismatchError) Error() string {
	who := ""
	if e.Name != "" {
		who = fmt.Sprintf(" for %q", e.Name)
	}
	return fmt.Sprintf("key mismatch%s: expected %s, peer presented %s",
		who, identity.Fingerprint(e.Want), identity.Fingerprint(e.Got))
}

// Is makes errors.Is(err, ErrKeyMismatch) true.
func (e *KeyMismatchError) Is(target error) bool { return target == ErrKeyMismatch }

// ByeError is how a session ends when the peer said Bye.
type ByeError struct{ Reason string }

func (e *ByeError) Error() string { return fmt.Sprintf("peer said bye: %s", e.Reason) }

// Refusal reports whether the peer refused us for a reason meant for the
// user (a RefusedError on its side), and the reason.
func (e *ByeError) Refusal() (string, bool) {
	return strings.CutPrefix(e.Reason, refusedPrefix)
}

// refusedPrefix starts the Bye reason of a RefusedError.
const refusedPrefix = "refused: "

// RefusedError refuses a peer for a reason it should be told: a Handler's
// Deliver or an Authorizer returns it (a quota is used up, a limit
// reached). The session or handshake ends with a Bye that carries Reason;
// the peer keeps its messages and tries again later, and its user can read
// why (ByeError.Refusal).
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return refusedPrefix + e.Reason }
