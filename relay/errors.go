package relay

import (
	"errors"

	"github.com/p2pchat/p2pchat/relay/internal/wire"
)

// Errors callers branch on. A refusal from the relay is a *RefusedError,
// which matches the sentinel for its code with errors.Is.
var (
	// ErrWrongRelayKey: the relay's TLS certificate holds a key other
	// than the one in its address; it is not the relay the record names.
	// Nothing but the TLS ClientHello was sent to it.
	ErrWrongRelayKey = errors.New("relay key does not match the relay address")
	// ErrBadRelaySignature: the relay's TLS certificate is not an identity
	// certificate (one Ed25519 key, self-signed by that key).
	ErrBadRelaySignature = errors.New("relay certificate is not a valid identity certificate")
	// ErrOldRelay: the relay speaks version 1 of the protocol, in the
	// clear; it matches ErrProtocol too.
	ErrOldRelay = errors.New("relay speaks protocol version 1, without TLS")
	// ErrNoReservation: the target holds no reservation on this relay.
	ErrNoReservation = errors.New("target holds no reservation on the relay")
	// ErrJoinTimeout: the target did not accept the connection in time.
	ErrJoinTimeout = errors.New("target did not accept in time")
	// ErrLimit: one of the relay's limits refused the request;
	// RefusedError.Detail names it.
	ErrLimit = errors.New("relay limit reached")
	// ErrReplaced: a newer reservation for the same key took this one's place.
	ErrReplaced = errors.New("reservation replaced by a newer one")
	// ErrClosed: the reservation was closed or its control connection died.
	ErrClosed = errors.New("reservation closed")
	// ErrProtocol: the relay sent something this client does not understand.
	ErrProtocol = errors.New("relay protocol error")
)

// RefusedError is a refusal the relay sent: Code is one of the wire codes
// (no_reservation, timeout, limit, auth, unknown_token, bad_request,
// replaced, shutdown) and Detail, for a limit, which limit.
type RefusedError = wire.RefusedError

var codeErrors = map[string]error{
	wire.CodeNoReservation: ErrNoReservation,
	wire.CodeTimeout:       ErrJoinTimeout,
	wire.CodeLimit:         ErrLimit,
	wire.CodeReplaced:      ErrReplaced,
}

// refused turns a wire error into one that matches both the *RefusedError
// (errors.As) and the sentinel for its code (errors.Is).
func refused(err error) error {
	var re *wire.RefusedError
	if errors.As(err, &re) {
		if s, ok := codeErrors[re.Code]; ok {
			return &codedError{re: re, sentinel: s}
		}
		return re
	}
	if errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrVersion) ||
		errors.Is(err, wire.ErrType) || errors.Is(err, wire.ErrTooLarge) {
		return errors.Join(ErrProtocol, err)
	}
	return err
}

type codedError struct {
	re       *wire.RefusedError
	sentinel error
}

func (e *codedError) Error() string   { return e.re.Error() }
func (e *codedError) Unwrap() []error { return []error{e.re, e.sentinel} }
