package record

import "errors"

// Sentinel errors. Every validation or decoding error wraps exactly one of
// them; the message around it names the field and says what is wrong.
var (
	// ErrBadName: the name does not match ^[a-z][a-z0-9_-]{0,31}$.
	ErrBadName = errors.New("bad name")
	// ErrBadKey: a public key that is not 32 bytes, not a canonical encoding
	// or a point of small order (see ValidatePublicKey), or a private key that
	// does not belong to the record's public key.
	ErrBadKey = errors.New("bad key")
	// ErrBadAddr: too many addresses, or one that is not a valid host:port.
	ErrBadAddr = errors.New("bad address")
	// ErrBadExpiry: expires is missing or not after the Unix epoch.
	ErrBadExpiry = errors.New("bad expiry")
	// ErrBadSignature: a signature of the wrong length or one that does not
	// verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrBadJSON: malformed JSON, an unknown or duplicated field, a value of the
	// wrong type, or trailing data.
	ErrBadJSON = errors.New("bad json")
	// ErrBadBase64: a binary field that is not padded standard base64.
	ErrBadBase64 = errors.New("bad base64")
)
