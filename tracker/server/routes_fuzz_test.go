package server

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/internal/strictjson"
	"github.com/p2pchat/p2pchat/tracker/record"
)

// errorCodes is every code an error body may carry.
var errorCodes = []string{
	CodeBadName, CodeBadJSON, CodeBadBase64, CodeBadKey, CodeBadAddr, CodeBadExpires, CodeBadSeq,
	CodeBadRecord, CodeBadRotation, CodeNameMismatch, CodeBadSignature, CodeStaleSeq, CodeNameTaken,
	CodeKeyMismatch, CodeNotFound, CodeExpired, CodeTooLarge, CodeRateLimited, CodeNoRoute,
	CodeUnavailable, CodeInternal,
}

// FuzzRoutes sends arbitrary requests (method, path with query, body) to
// the whole handler, over a real SQLite store holding alice: every route,
// the operator ones and paths that match none. FuzzRequestBody goes deep
// into the three write bodies; this one covers the names in paths, the
// methods, the query (dial-backs are off: nothing is dialled) and the
// read routes. Whatever comes in:
//   - no 5xx (the store works, so a 5xx would be a handler bug);
//   - an error is a JSON body with a known code, and a 410 carries the record;
//   - a record in an answer verifies and is the one the path names;
//   - /metrics is the Prometheus text format, everything else JSON.
func FuzzRoutes(f *testing.F) {
	tt := &testTracker{clock: newClock()}
	priv := key(1)
	alice := tt.signed(f, priv, "alice", 1)
	for _, s := range []struct{ method, path, body string }{
		{"GET", "/v1/users/alice", ""},
		{"GET", "/v1/users/nobody", ""},
		{"GET", "/v1/users/Alice", ""},
		{"GET", "/v1/users/" + strings.Repeat("a", 33), ""},
		{"GET", "/v1/users/%00", ""},
		{"HEAD", "/v1/users/alice", ""},
		{"POST", "/v1/users", string(mustJSON(f, tt.signed(f, key(2), "bob", 1)))},
		{"POST", "/v1/users?check=dialback", string(mustJSON(f, alice))},
		{"PUT", "/v1/users/alice", string(updateBody(f, tt.signed(f, priv, "alice", 2), nil))},
		{"PUT", "/v1/users/bob", string(updateBody(f, tt.signed(f, priv, "alice", 3), nil))},
		{"DELETE", "/v1/users/alice", string(deleteBody(f, key(3), "alice", 9))},
		{"DELETE", "/v1/users/alice", "{"},
		{"GET", "/healthz", ""},
		{"POST", "/healthz", ""},
		{"GET", "/metrics", ""},
		{"GET", "/", ""},
		{"OPTIONS", "/v1/users", ""},
		{"GET", "/v1/users/alice/../bob", ""},
		{"PATCH", "/v1/users/alice", "\xff"},
	} {
		f.Add(s.method, s.path, []byte(s.body))
	}
	srv, err := New(Config{Now: tt.clock.Now, RateLimit: 1e9, RateBurst: 1e9, OpsRateLimit: 1e9, OpsRateBurst: 1e9,
		DisableDialback: true}, openStore(f), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/users", bytes.NewReader(mustJSON(f, alice))))
	if w.Code != http.StatusCreated {
		f.Fatalf("seed registration: %d %s", w.Code, w.Body)
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		r, err := http.NewRequest(method, "http://tracker.test"+target, bytes.NewReader(body))
		if err != nil || r.URL.Host != "tracker.test" || r.Method == http.MethodConnect {
			return // not a request net/http would serve
		}
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		checkTrackerAnswer(t, r, w)
	})
}

func checkTrackerAnswer(t *testing.T, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	what := r.Method + " " + r.URL.String()
	st, data := w.Code, w.Body.Bytes()
	ctype, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	switch {
	case st >= 500:
		t.Fatalf("%s: %d %s", what, st, data)
	case st == http.StatusTemporaryRedirect || st == http.StatusMovedPermanently:
		// net/http.ServeMux sends a path with "..", "." or "//" to its
		// clean form before any handler runs.
		loc, err := url.Parse(w.Header().Get("Location"))
		if err != nil || loc.Host != "" || path.Clean(r.URL.Path) == strings.TrimSuffix(r.URL.Path, "/") {
			t.Fatalf("%s: redirect %d to %q", what, st, w.Header().Get("Location"))
		}
	case r.URL.Path == "/metrics" && st == http.StatusOK:
		if ctype != "text/plain" || !bytes.Contains(data, []byte("tracker_")) {
			t.Fatalf("%s: metrics as %q: %.200s", what, ctype, data)
		}
	case st == http.StatusNoContent:
		if len(data) != 0 {
			t.Fatalf("%s: 204 with a body %q", what, data)
		}
	case st >= 400:
		var e errorResponse
		if ctype != "application/json" || strictjson.Decode(bytes.NewReader(data), &e) != nil ||
			!slices.Contains(errorCodes, e.Code) || e.Error == "" {
			t.Fatalf("%s: %d is not a JSON error with a known code: %q", what, st, data)
		}
		if (st == http.StatusGone) != (e.Code == CodeExpired) || (st == http.StatusGone && e.Record == nil) {
			t.Fatalf("%s: %d with code %s and record %v", what, st, e.Code, e.Record)
		}
		if e.Record != nil {
			checkAnswerRecord(t, what, r, *e.Record)
		}
	case st >= 200 && st < 300:
		if ctype != "application/json" || !json.Valid(data) {
			t.Fatalf("%s: %d is not JSON: %q", what, st, data)
		}
		if strings.HasPrefix(r.URL.Path, "/v1/users") {
			var u userResponse
			if err := json.Unmarshal(data, &u); err != nil || u.Record == nil {
				t.Fatalf("%s: %d is not a user answer: %v %q", what, st, err, data)
			}
			checkAnswerRecord(t, what, r, *u.Record)
		}
	default:
		t.Fatalf("%s: unexpected status %d %q", what, st, data)
	}
}

// checkAnswerRecord: a record the tracker hands out is signed by its key
// and, on a route with a name, is that name's.
func checkAnswerRecord(t *testing.T, what string, r *http.Request, rec record.Signed) {
	t.Helper()
	if err := rec.Verify(); err != nil {
		t.Fatalf("%s: answered a record that does not verify: %v", what, err)
	}
	if name := r.PathValue("name"); name != "" && rec.Name != name {
		t.Fatalf("%s: answered %s's record", what, rec.Name)
	}
}
