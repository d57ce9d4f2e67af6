package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors; an *APIError matches the one for its code with errors.Is.
var (
	ErrNotFound     = errors.New("no such user")
	ErrExpired      = errors.New("record expired")
	ErrNameTaken    = errors.New("name already registered")
	ErrStaleSeq     = errors.New("seq not greater than the registered one")
	ErrKeyMismatch  = errors.New("key does not match the registered key")
	ErrBadSignature = errors.New("signature refused")
	ErrRateLimited  = errors.New("rate limited")
	// ErrBadRequest matches every other 4xx: the tracker refused the input
	// (bad name, bad JSON, expiry out of range, ...). Code says which.
	ErrBadRequest = errors.New("request refused")
	// ErrUnavailable: the tracker answered 5xx; try again later.
	ErrUnavailable = errors.New("tracker unavailable")
	// ErrBadRecord: the tracker's answer failed the client's own checks (a
	// record with a bad signature or for another name, or garbage).
	ErrBadRecord = errors.New("tracker sent a bad record")
)

var codeErrors = map[string]error{
	"not_found":     ErrNotFound,
	"expired":       ErrExpired,
	"name_taken":    ErrNameTaken,
	"stale_seq":     ErrStaleSeq,
	"key_mismatch":  ErrKeyMismatch,
	"bad_signature": ErrBadSignature,
	"rate_limited":  ErrRateLimited,
}

// APIError is an error answer from the tracker.
type APIError struct {
	Status  int    // HTTP status
	Code    string // machine-readable code, e.g. "name_taken"; empty if the body was not the tracker's
	Message string // the tracker's one-sentence explanation
	// RetryAfter is the tracker's Retry-After on a 429 or 503, else 0.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("tracker answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("tracker answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Is maps the code (or, failing that, the status class) to a sentinel.
func (e *APIError) Is(target error) bool {
	if s, ok := codeErrors[e.Code]; ok {
		return s == target
	}
	if e.Status == http.StatusNotFound && e.Code == "" {
		return false // a 404 from something that is not the tracker API
	}
	switch {
	case e.Status >= 500:
		return target == ErrUnavailable
	case e.Status >= 400:
		return target == ErrBadRequest
	}
	return false
}

func isExpired(err error) bool { return errors.Is(err, ErrExpired) }

type errorBody struct {
	userResponse
	Error string `json:"error"`
	Code  string `json:"code"`
}

// decodeErrorBody turns a non-success response into an *APIError; for a
// 410 it also returns the record the body carries.
func decodeErrorBody(resp *http.Response, data []byte) (userResponse, error) {
	e := &APIError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var body errorBody
	if json.Unmarshal(data, &body) == nil && body.Code != "" {
		e.Code, e.Message = body.Code, body.Error
	} else {
		e.Message = strings.TrimSpace(http.StatusText(resp.StatusCode) + ": " + snippet(data))
	}
	if e.Code == "expired" {
		return body.userResponse, e
	}
	return userResponse{}, e
}

func retryAfter(h string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || secs < 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// snippet shows the start of a foreign error body (a proxy's HTML page),
// printable characters only.
func snippet(b []byte) string {
	const max = 120
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.TrimSpace(s)
}
