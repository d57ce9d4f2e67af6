package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"syscall"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// maxRequestBytes bounds request bodies: a maximal message body whose every
// byte JSON escapes to six, plus room for the envelope.
const maxRequestBytes = 6*api.MaxBodyBytes + 4096

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log().Error("encode control response", zap.Error(err))
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error in chatd","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError sends err to the client: as is for an *api.Error, as
// "disk is full" for anything that wraps ENOSPC (the store's ErrDiskFull),
// as a generic internal error (logged in full) otherwise.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away; nobody is listening
	case errors.Is(err, syscall.ENOSPC):
		// No bug in chatd, and the one cause the user can remove.
		s.log().Warn("control request failed: disk full", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		ae = &api.Error{Code: api.CodeUnavailable, Message: "disk is full (ENOSPC): chatd cannot write its database",
			Hint: "free space on the disk that holds chatd's data directory, then try again; nothing was stored"}
	default:
		s.log().Error("control request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		ae = &api.Error{Code: api.CodeInternal, Message: "internal error in chatd",
			Hint: "see chatd's log: journalctl --user -u chatd"}
	}
	s.writeJSON(w, ae.HTTPStatus(), ae)
}

// decodeBody reads a strict JSON request body into v, turning an oversized
// body into too_large and anything malformed into bad_request.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxRequestBytes)
	err := api.DecodeStrict(body, v)
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &api.Error{Code: api.CodeTooLarge, Message: fmt.Sprintf("request body over %d bytes", mbe.Limit)}
	}
	return &api.Error{Code: api.CodeBadRequest, Message: "bad request body: " + err.Error()}
}

func badRequest(format string, args ...any) error {
	return &api.Error{Code: api.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}
