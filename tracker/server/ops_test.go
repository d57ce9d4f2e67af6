package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRateLimitPerSource(t *testing.T) {
	tt := startTracker(t, Config{RateLimit: 0.01, RateBurst: 3})
	for i := 0; i < 3; i++ {
		if r := tt.do(t, "GET", "/v1/users/nobody", nil); r.status != http.StatusNotFound {
			t.Fatalf("request %d within the burst: %d %s", i, r.status, r.body)
		}
	}
	r := tt.do(t, "GET", "/v1/users/nobody", nil)
	if r.status != http.StatusTooManyRequests || r.errBody(t).Code != CodeRateLimited {
		t.Fatalf("request beyond the burst: %d %s, want 429 rate_limited", r.status, r.body)
	}
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", r.header.Get("Retry-After"))
	}
	// Health checks are not limited, and the refusal shows in the metrics.
	if r := tt.do(t, "GET", "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("healthz while limited: %d", r.status)
	}
	if m := string(tt.do(t, "GET", "/metrics", nil).body); !strings.Contains(m, "tracker_rate_limited_total 1") {
		t.Errorf("metrics do not count the refused request:\n%s", grepLines(m, "rate_limited"))
	}
}

func TestRateLimiterBoundedAndPerPrefix(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimiter(1, 1, 4, func() time.Time { return now })
	a := netip.MustParseAddr("2001:db8::1")
	b := netip.MustParseAddr("2001:db8::2") // same /64
	if _, ok := l.allow(a); !ok {
		t.Fatal("first request refused")
	}
	if _, ok := l.allow(b); ok {
		t.Fatal("second address in the same /64 got its own bucket")
	}
	for i := 0; i < 100; i++ {
		l.allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	if n := len(l.sources); n > 4 {
		t.Fatalf("limiter tracks %d sources, bound is 4", n)
	}
}

func TestClientAddrTrustedProxies(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}}}
	cases := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.7:4000", []string{"198.51.100.1:5000"}, "192.0.2.7:4000"}, // untrusted peer: header ignored
		{"127.0.0.1:4000", nil, "127.0.0.1:4000"},
		{"127.0.0.1:4000", []string{"198.51.100.1:5000"}, "198.51.100.1:5000"},
		{"127.0.0.1:4000", []string{"198.51.100.1"}, "198.51.100.1:0"},
		{"127.0.0.1:4000", []string{"203.0.113.9, 198.51.100.1:5000, 10.1.1.1"}, "198.51.100.1:5000"}, // spoofed left entry ignored
		{"127.0.0.1:4000", []string{"203.0.113.9", "10.1.1.1"}, "203.0.113.9:0"},
		{"127.0.0.1:4000", []string{"10.2.2.2, 10.1.1.1"}, "10.2.2.2:0"}, // all trusted: the leftmost
		{"127.0.0.1:4000", []string{"garbage, 10.1.1.1"}, "127.0.0.1:4000"},
		{"[::ffff:127.0.0.1]:4000", []string{"[2001:db8::5]:6000"}, "[2001:db8::5]:6000"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for _, h := range c.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := s.clientAddr(r).String(); got != c.want {
			t.Errorf("remote %s xff %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	tt := startTracker(t, Config{})
	tt.register(t, tt.signed(t, key(1), "alice", 1))
	tt.do(t, "GET", "/v1/users/bob", nil)
	if r := tt.do(t, "GET", "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	m := string(tt.do(t, "GET", "/metrics", nil).body)
	for _, want := range []string{
		"tracker_records 1",
		`tracker_http_requests_total{code="201",route="POST /v1/users"} 1`,
		`tracker_http_requests_total{code="404",route="GET /v1/users/{name}"} 1`,
		`tracker_http_request_duration_seconds_count{route="POST /v1/users"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(m, "tracker_"))
		}
	}
}

// A broken store is the server's problem: the client gets 503, never 500,
// and health checks fail.
func TestStoreFailureIs503(t *testing.T) {
	tt := startTracker(t, Config{})
	tt.store.Close()
	for _, path := range []string{"/healthz", "/v1/users/alice"} {
		r := tt.do(t, "GET", path, nil)
		if r.status != http.StatusServiceUnavailable || r.errBody(t).Code != CodeUnavailable {
			t.Errorf("GET %s with a closed store: %d %s, want 503 unavailable", path, r.status, r.body)
		}
	}
}

func TestPurgeFreesNameAfterGrace(t *testing.T) {
	tt := startTracker(t, Config{PurgeGrace: 24 * time.Hour})
	tt.register(t, tt.signed(t, key(1), "alice", 1))
	tt.clock.Advance(2 * time.Hour) // expired, but within grace
	if n, err := tt.srv.PurgeOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("purge within grace removed %d (%v), want 0", n, err)
	}
	if r := tt.do(t, "POST", "/v1/users", mustJSON(t, tt.signed(t, key(2), "alice", 1))); r.status != http.StatusConflict {
		t.Fatalf("taking an expired name within grace: %d, want 409", r.status)
	}
	tt.clock.Advance(24 * time.Hour)
	if n, err := tt.srv.PurgeOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("purge after grace removed %d (%v), want 1", n, err)
	}
	tt.register(t, tt.signed(t, key(2), "alice", 1))
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// FuzzClientAddr: whatever X-Forwarded-For says, the observed address is
// the peer itself or a valid address taken from the header, and a header
// from an untrusted peer is ignored.
func FuzzClientAddr(f *testing.F) {
	f.Add("127.0.0.1:4000", "198.51.100.1:5000, 10.1.1.1")
	f.Add("192.0.2.7:4000", "198.51.100.1")
	f.Add("[::1]:80", "[2001:db8::1]:1,,garbage")
	f.Add("not an addr", "")
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := s.clientAddr(r)
		peer, err := netip.ParseAddrPort(remote)
		if err != nil {
			if got.IsValid() {
				t.Fatalf("unparsable peer %q gave %v", remote, got)
			}
			return
		}
		if !s.trusted(peer.Addr().Unmap()) && got != netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()) {
			t.Fatalf("untrusted peer %q with XFF %q observed as %v", remote, xff, got)
		}
		if !got.Addr().IsValid() {
			t.Fatalf("peer %q XFF %q: invalid observed address", remote, xff)
		}
	})
}
