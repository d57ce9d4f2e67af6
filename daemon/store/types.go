package store

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"time"
)

// Direction says which way a message travelled.
type Direction string

// Directions of a message.
const (
	In  Direction = "in"
	Out Direction = "out"
)

// State is where a message is in its life. Outgoing messages move
// queued → sent → delivered and never back; incoming ones are received.
type State string

// Message states.
const (
	Queued    State = "queued"
	Sent      State = "sent"
	Delivered State = "delivered"
	Received  State = "received"
)

// Message is one chat message in either direction.
type Message struct {
	Seq       int64    // local order, increasing in insertion order across the whole store
	ID        [16]byte // random ID chosen by the sender, unique per (Peer, Direction)
	Peer      string
	Direction Direction
	Body      []byte    // UTF-8 text, at most api.MaxBodyBytes bytes
	SentAt    time.Time // the sender's timestamp
	StoredAt  time.Time // when this store committed it
	State     State
}

// Contact is a peer whose public key is pinned.
type Contact struct {
	Name      string
	PublicKey ed25519.PublicKey
	Verified  bool // the user compared fingerprints out of band
	AddedAt   time.Time
	LastSeen  time.Time // zero when never seen
}

// Event types written by the store itself; other parts may append their own
// (EventPresence, or anything else) with AppendEvent.
const (
	EventMessage     = "message"      // an incoming message was stored; Event.Message holds it
	EventSent        = "sent"         // reserved for callers; the store does not emit it
	EventDelivered   = "delivered"    // the peer acknowledged an outgoing message; Event.Message holds it
	EventPresence    = "presence"     // appended by the presence layer
	EventContact     = "contact"      // a contact was pinned, verified, unverified or removed
	EventKeyMismatch = "key_mismatch" // a key other than the pinned one was offered; appended by the caller of PinContact
)

// Event is one entry of the event log.
type Event struct {
	ID        int64 // cursor: strictly increasing in commit order
	At        time.Time
	Type      string
	Peer      string
	MessageID [16]byte        // zero when the event is not about a message
	Data      json.RawMessage // extra fields, a JSON object, or nil
	// Message is the message a "message" or "delivered" event is about,
	// filled in by Events so that a stream needs no second lookup. Nil for
	// other events.
	Message *Message
}

// Sentinel errors callers branch on (use errors.Is).
var (
	ErrNotFound     = errors.New("not found")
	ErrKeyMismatch  = errors.New("public key does not match the pinned key")
	ErrExists       = errors.New("already exists")
	ErrInvalid      = errors.New("invalid argument")
	ErrClosed       = errors.New("store closed")
	ErrSchemaTooNew = errors.New("database schema is newer than this program knows")
	ErrEventsPruned = errors.New("events after the cursor were pruned")
)

// KeyMismatchError reports a key change for a pinned contact. It matches
// ErrKeyMismatch with errors.Is.
type KeyMismatchError struct {
	Name    string
	Pinned  ed25519.PublicKey
	Offered ed25519.PublicKey
}

func (e *KeyMismatchError) Error() string {
	return "contact " + e.Name + ": " + ErrKeyMismatch.Error()
}

func (e *KeyMismatchError) Is(target error) bool { return target == ErrKeyMismatch }

// unixNano stores a time as an integer, with the zero time as 0 so that it
// survives a round trip (time.Unix(0, 0) is not the zero time).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
