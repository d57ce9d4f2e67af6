package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
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
	return s.readBodyTo(nil, w, r)
}

// readBodyTo is readBody appending to dst, a pooled buffer: an update's
// body is garbage once decoded (the record copies what it keeps).
func (s *Server) readBodyTo(dst []byte, w http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	buf := bytes.NewBuffer(dst)
	_, err := buf.ReadFrom(r.Body)
	return buf.Bytes(), err
}

// announce returns the observed address and re-announce delay for a
// response, at now, about a record that expires at exp.
func (s *Server) announce(r *http.Request, exp, now time.Time) (netip.AddrPort, int64) {
	left := exp.Sub(now)
	after := time.Duration(float64(left) * s.cfg.ReannounceFraction)
	after = min(max(after, s.cfg.ReannounceMin), s.cfg.ReannounceMax)
	return s.clientAddr(r), int64(after / time.Second)
}

// appendAnnounce appends the announce fields of a response about a record
// that expires at exp, `,"observed_addr":"...","reannounce_after":N`, as
// encoding/json writes them for userResponse or (omitEmpty) for
// errorResponse.
func (s *Server) appendAnnounce(b []byte, r *http.Request, exp, now time.Time, omitEmpty bool) []byte {
	obs, after := s.announce(r, exp, now)
	if obs.IsValid() || !omitEmpty {
		b = append(b, `,"observed_addr":`...)
		b = appendJSONString(b, obs)
	}
	if after != 0 || !omitEmpty {
		b = append(b, `,"reannounce_after":`...)
		b = strconv.AppendInt(b, after, 10)
	}
	return b
}

// appendJSONString appends a's string form as a JSON string. An address
// needs no escaping unless a proxy's X-Forwarded-For gave it an odd IPv6
// zone; then encoding/json escapes it, as it did before.
func appendJSONString(b []byte, a netip.AddrPort) []byte {
	start := len(b)
	b = append(b, '"')
	if a.IsValid() {
		b = a.AppendTo(b)
	} else {
		b = append(b, a.String()...)
	}
	for _, c := range b[start+1:] {
		if c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			esc, _ := json.Marshal(a.String())
			return append(b[:start], esc...)
		}
	}
	return append(b, '"')
}

// writeUser answers with rec; dialback is the dial-back answer, "" when
// none was asked for.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, rec record.Signed, dialback string) {
	bp := getBuf()
	defer putBuf(bp)
	b := append((*bp)[:0], `{"record":`...)
	b = rec.AppendJSON(b)
	b = s.appendAnnounce(b, r, rec.Expires, s.cfg.Now(), false)
	if dialback != "" {
		b = append(b, `,"dialback":"`...)
		b = append(b, dialback...) // one of our own constants
		b = append(b, '"')
	}
	*bp = append(b, "}\n"...)
	writeBody(w, status, *bp)
}

// jsonType is the Content-Type of every answer, one shared slice: set
// straight into the header map it costs no allocation per response.
var jsonType = []string{"application/json"}

// writeBody writes a whole JSON body with one Write. A body under
// autoLength bytes gets its Content-Length from net/http, which computes
// it for a handler that returns without flushing; a longer one is sent
// with an explicit Content-Length as well, never chunked.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	const autoLength = 1024 // well under net/http's 2048-byte buffer
	h := w.Header()
	h["Content-Type"] = jsonType
	if len(body) >= autoLength {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	w.Write(body)
}
