package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/p2pchat/p2pchat/tracker/store"
)

// countingStore counts Count calls, the COUNT(*) over every user that
// issue 11 found /healthz and /metrics running per request.
type countingStore struct {
	store.Store
	counts atomic.Int64
}

func (c *countingStore) Count(ctx context.Context) (int64, error) {
	c.counts.Add(1)
	return c.Store.Count(ctx)
}

// TestHealthAndMetricsDoNotCountPerRequest is finding 5 of issue 11: a
// flood of /healthz and /metrics must not run a full count each time.
func TestHealthAndMetricsDoNotCountPerRequest(t *testing.T) {
	tt := startTracker(t, Config{})
	cs := &countingStore{Store: tt.store}
	srv, err := New(Config{Now: tt.clock.Now}, cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for range 200 {
		for _, path := range []string{"/healthz", "/metrics"} {
			req, _ := http.NewRequest("GET", path, nil)
			req.RemoteAddr = "192.0.2.7:4000"
			h.ServeHTTP(discard{}, req)
		}
	}
	if n := cs.counts.Load(); n > 2 {
		t.Fatalf("400 health and metrics requests ran Count %d times, want at most 2", n)
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// TestHealthFloodLimitedPerSource: one source looping on /healthz is
// refused with 429 once past its burst, while another source's health
// check and the flooding source's own lookups still answer.
func TestHealthFloodLimitedPerSource(t *testing.T) {
	tt := startTracker(t, Config{})
	if r := tt.do(t, "POST", "/v1/users", mustJSON(t, tt.signed(t, key(1), "alice", 1))); r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	h := tt.srv.Handler()
	status := func(path, from string) int {
		req, _ := http.NewRequest("GET", path, nil)
		req.RemoteAddr = from
		rec := &statusRecorder{}
		h.ServeHTTP(rec, req)
		return rec.code
	}
	limited := 0
	for range 100 {
		if status("/healthz", "192.0.2.7:4000") == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 80 {
		t.Errorf("%d of 100 health checks from one source refused, want most", limited)
	}
	if c := status("/healthz", "192.0.2.8:4000"); c != http.StatusOK {
		t.Errorf("another source's health check: %d, want 200", c)
	}
	if c := status("/v1/users/alice", "192.0.2.7:4000"); c != http.StatusOK {
		t.Errorf("the flooding source's lookup: %d, want 200 (separate budget)", c)
	}
}

type statusRecorder struct{ code int }

func (s *statusRecorder) Header() http.Header { return http.Header{} }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(c int) {
	if s.code == 0 {
		s.code = c
	}
}
