package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// userResponse answers register, lookup and update.
type userResponse struct {
	Record          *record.Signed `json:"record"`
	ObservedAddr    string         `json:"observed_addr"`
	ReannounceAfter int64          `json:"reannounce_after"` // seconds
	// Dialback answers ?check=dialback on register and update (see
	// dialback.go); absent otherwise.
	Dialback string `json:"dialback,omitempty"`
}

// errorResponse is every error body. A 410 also carries the expired record
// and the announce fields, so a client can tell "gone" from "never existed".
type errorResponse struct {
	Error           string         `json:"error"`
	Code            string         `json:"code"`
	Record          *record.Signed `json:"record,omitempty"`
	ObservedAddr    string         `json:"observed_addr,omitempty"`
	ReannounceAfter int64          `json:"reannounce_after,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own types get here; they always marshal.
		http.Error(w, `{"error":"internal error","code":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, errorResponse{Error: e.msg, Code: e.code})
}

// readBody reads the whole request body, at most MaxBodyBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	return io.ReadAll(r.Body)
}

// announce returns the observed address and re-announce delay for a
// response about a record that expires at exp.
func (s *Server) announce(r *http.Request, exp time.Time) (string, int64) {
	left := exp.Sub(s.cfg.Now())
	after := time.Duration(float64(left) * s.cfg.ReannounceFraction)
	after = min(max(after, s.cfg.ReannounceMin), s.cfg.ReannounceMax)
	return s.clientAddr(r).String(), int64(after / time.Second)
}

// writeUser answers with rec; dialback is the dial-back answer, "" when
// none was asked for.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, rec record.Signed, dialback string) {
	obs, after := s.announce(r, rec.Expires)
	writeJSON(w, status, userResponse{Record: &rec, ObservedAddr: obs, ReannounceAfter: after, Dialback: dialback})
}
