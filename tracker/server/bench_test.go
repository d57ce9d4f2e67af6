package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkLookup measures one lookup through the whole handler (routing,
// rate limit, SQLite read, JSON encoding), without the network.
func BenchmarkLookup(b *testing.B) {
	tt := &testTracker{clock: newClock()}
	srv, err := New(Config{Now: tt.clock.Now, RateLimit: 1e9, RateBurst: 1e9}, openStore(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/users", bytes.NewReader(mustJSON(b, tt.signed(b, key(1), "alice", 1)))))
	if w.Code != http.StatusCreated {
		b.Fatalf("register: %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/users/alice", nil))
			if w.Code != http.StatusOK {
				b.Fatalf("lookup: %d", w.Code)
			}
		}
	})
}

// BenchmarkUpdate measures a signed update: verification plus a SQLite
// write transaction.
func BenchmarkUpdate(b *testing.B) {
	tt := &testTracker{clock: newClock()}
	srv, err := New(Config{Now: tt.clock.Now, RateLimit: 1e9, RateBurst: 1e9}, openStore(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	priv := key(1)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/users", bytes.NewReader(mustJSON(b, tt.signed(b, priv, "alice", 1)))))
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = updateBody(b, tt.signed(b, priv, "alice", uint64(i+2)), nil)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("PUT", "/v1/users/alice", bytes.NewReader(bodies[i])))
		if w.Code != http.StatusOK {
			b.Fatalf("update: %d %s", w.Code, w.Body)
		}
	}
}
