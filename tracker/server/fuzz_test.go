package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzRequestBody sends arbitrary bodies to every write route through the
// real handler over a real SQLite store: no input may panic the server or
// make it answer 5xx, every error is JSON with a known code, and a record
// in an answer verifies (checkTrackerAnswer).
func FuzzRequestBody(f *testing.F) {
	tt := &testTracker{clock: newClock()}
	priv := key(1)
	valid := tt.signed(f, priv, "alice", 1)
	upd := tt.signed(f, priv, "alice", 2)
	f.Add(uint8(0), mustJSON(f, valid))
	f.Add(uint8(1), updateBody(f, upd, nil))
	f.Add(uint8(1), updateBody(f, tt.signed(f, key(2), "alice", 2), []byte("x")))
	f.Add(uint8(2), deleteBody(f, priv, "alice", 3))
	f.Add(uint8(0), []byte(`{"name":"a","public_key":"","addrs":[],"seq":0,"expires":0,"signature":""}`))
	f.Add(uint8(1), []byte(`{"record":null,"rotation_signature":null}`))
	f.Add(uint8(2), []byte(`{"public_key":null,"seq":-1}`))

	srv, err := New(Config{Now: tt.clock.Now, RateLimit: 1e9, RateBurst: 1e9}, openStore(f), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	// alice exists so that updates and deletions reach the store.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/users", bytes.NewReader(mustJSON(f, valid))))
	if w.Code != http.StatusCreated {
		f.Fatalf("seed registration: %d %s", w.Code, w.Body)
	}
	routes := []struct{ method, path string }{{"POST", "/v1/users"}, {"PUT", "/v1/users/alice"}, {"DELETE", "/v1/users/alice"}}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		r := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		checkTrackerAnswer(t, r, w)
	})
}
