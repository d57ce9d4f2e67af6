package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/store"
)

// Error codes, the stable part of an error body that clients branch on.
const (
	CodeBadName      = "bad_name"
	CodeBadJSON      = "bad_json"
	CodeBadBase64    = "bad_base64"
	CodeBadKey       = "bad_key"
	CodeBadAddr      = "bad_addr"
	CodeBadExpires   = "bad_expires"
	CodeBadSeq       = "bad_seq"
	CodeBadRecord    = "bad_record"
	CodeBadRotation  = "bad_rotation"
	CodeNameMismatch = "name_mismatch"
	CodeBadSignature = "bad_signature"
	CodeStaleSeq     = "stale_seq"
	CodeNameTaken    = "name_taken"
	CodeKeyMismatch  = "key_mismatch"
	CodeNotFound     = "not_found"
	CodeExpired      = "expired"
	CodeTooLarge     = "too_large"
	CodeRateLimited  = "rate_limited"
	CodeNoRoute      = "no_route"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
)

// apiError is an error with the status and code the client sees.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// clientErrors maps the sentinels a request can trigger to what the client
// sees. Anything not listed is the server's fault (classify).
var clientErrors = []struct {
	err    error
	status int
	code   string
}{
	{record.ErrBadName, http.StatusBadRequest, CodeBadName},
	{record.ErrBadJSON, http.StatusBadRequest, CodeBadJSON},
	{record.ErrBadBase64, http.StatusBadRequest, CodeBadBase64},
	{record.ErrBadKey, http.StatusBadRequest, CodeBadKey},
	{record.ErrBadAddr, http.StatusBadRequest, CodeBadAddr},
	{record.ErrBadExpiry, http.StatusBadRequest, CodeBadExpires},
	{record.ErrBadSignature, http.StatusForbidden, CodeBadSignature},
	{store.ErrInvalidRecord, http.StatusBadRequest, CodeBadRecord},
	{store.ErrExists, http.StatusConflict, CodeNameTaken},
	{store.ErrStaleSeq, http.StatusConflict, CodeStaleSeq},
	{store.ErrKeyMismatch, http.StatusForbidden, CodeKeyMismatch},
	{store.ErrNotFound, http.StatusNotFound, CodeNotFound},
}

// classify turns err into what the client sees. Errors that are not the
// client's fault become a 503 with a fixed message; the caller logs them.
func classify(err error) (e *apiError, clientFault bool) {
	if errors.As(err, &e) {
		return e, true
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return newAPIError(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than %d bytes", tooLarge.Limit), true
	}
	for _, c := range clientErrors {
		if errors.Is(err, c.err) {
			return &apiError{status: c.status, code: c.code, msg: err.Error()}, true
		}
	}
	return newAPIError(http.StatusServiceUnavailable, CodeUnavailable, "the tracker cannot reach its store; try again later"), false
}
