package api

import "net/http"

// Error codes that callers branch on.
const (
	CodeUnknownUser         = "unknown_user"         // the tracker has no such user
	CodeNotFound            = "not_found"            // no such contact, message or endpoint
	CodeKeyMismatch         = "key_mismatch"         // the peer's key differs from the pinned one
	CodeFingerprintMismatch = "fingerprint_mismatch" // verify was given the wrong fingerprint
	CodeTooLarge            = "too_large"            // message or request body over the limit
	CodeBadRequest          = "bad_request"          // malformed request
	CodeNotDelivered        = "not_delivered"        // no receipt (yet)
	CodeRefused             = "refused"              // the peer's chatd refused the message for now; it stays queued
	CodeUnavailable         = "unavailable"          // the daemon cannot do it right now (e.g. tracker unreachable)
	CodeForbidden           = "forbidden"            // the caller is not the daemon's user, or a browser
	CodeInternal            = "internal"             // a daemon bug or I/O failure; see its log
)

// Error is the JSON body of every failed request, and the error the Go
// client returns for it.
type Error struct {
	Message string `json:"error"`          // one lower-case line, no trailing period
	Code    string `json:"code"`           // one of the Code constants
	Hint    string `json:"hint,omitempty"` // what the user can do about it
}

// Sentinels for errors.Is; they match any *Error with the same code.
var (
	ErrUnknownUser         = &Error{Code: CodeUnknownUser}
	ErrNotFound            = &Error{Code: CodeNotFound}
	ErrKeyMismatch         = &Error{Code: CodeKeyMismatch}
	ErrFingerprintMismatch = &Error{Code: CodeFingerprintMismatch}
	ErrTooLarge            = &Error{Code: CodeTooLarge}
	ErrBadRequest          = &Error{Code: CodeBadRequest}
	ErrNotDelivered        = &Error{Code: CodeNotDelivered}
	ErrRefused             = &Error{Code: CodeRefused}
	ErrUnavailable         = &Error{Code: CodeUnavailable}
	ErrForbidden           = &Error{Code: CodeForbidden}
	ErrInternal            = &Error{Code: CodeInternal}
)

// Errorf-style constructors are deliberately absent: a backend builds
// errors as literals so that the code is always set:
//
//	return &api.Error{Code: api.CodeUnknownUser, Message: fmt.Sprintf("no user %q on the tracker", name)}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Message
}

// Is reports whether target is an *Error with the same code, so that the
// sentinels above work with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// HTTPStatus is the response status the server uses for e.
func (e *Error) HTTPStatus() int {
	switch e.Code {
	case CodeUnknownUser, CodeNotFound:
		return http.StatusNotFound
	case CodeKeyMismatch, CodeFingerprintMismatch, CodeNameTaken, CodeNoName:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeNotDelivered, CodeRefused:
		return http.StatusGatewayTimeout
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeForbidden:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// CodeForStatus guesses a code for a response that carried no usable
// Error body (a proxy, a crash mid-response).
func CodeForStatus(status int) string {
	switch status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return CodeNotFound
	case http.StatusConflict:
		return CodeKeyMismatch
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusGatewayTimeout:
		return CodeNotDelivered
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	case http.StatusForbidden, http.StatusUnauthorized:
		return CodeForbidden
	default:
		return CodeInternal
	}
}
