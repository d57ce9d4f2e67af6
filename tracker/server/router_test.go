package server

import (
	"net/http"
	"testing"
)

// TestLookupShortcut: the router's shortcut for plain lookups answers as
// the mux does, and every other spelling of a lookup still goes through
// the mux with the answer it always had.
func TestLookupShortcut(t *testing.T) {
	tt := startTracker(t, Config{})
	tt.register(t, tt.signed(t, key(1), "alice", 1))
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/users/alice", http.StatusOK, ""},   // the shortcut
		{"GET", "/v1/users/al%69ce", http.StatusOK, ""}, // escaped: the mux
		{"HEAD", "/v1/users/alice", http.StatusOK, ""},  // the mux
		{"GET", "/v1/users/bob", http.StatusNotFound, CodeNotFound},
		{"GET", "/v1/users/Alice", http.StatusBadRequest, CodeBadName},
		{"GET", "/v1/users/a.b", http.StatusBadRequest, CodeBadName},
		{"GET", "/v1/users/alice/x", http.StatusNotFound, CodeNoRoute},
		{"GET", "/v1/users/", http.StatusNotFound, CodeNoRoute},
		{"POST", "/v1/users/alice", http.StatusNotFound, CodeNoRoute},
	} {
		r := tt.do(t, c.method, c.path, nil)
		if r.status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
			continue
		}
		if c.code != "" && r.errBody(t).Code != c.code {
			t.Errorf("%s %s: code %q, want %q", c.method, c.path, r.errBody(t).Code, c.code)
		}
		if c.status == http.StatusOK && c.method == "GET" && r.userBody(t).Record.Name != "alice" {
			t.Errorf("%s %s: %s", c.method, c.path, r.body)
		}
	}
}
