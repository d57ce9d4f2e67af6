package load

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"

	"github.com/p2pchat/p2pchat/tracker/server"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func TestCheckTarget(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:8080":          true,
		"https://127.9.9.9":              true,
		"http://[::1]:8080/":             true,
		"http://[::ffff:127.0.0.1]:80":   true,
		"http://localhost:8080":          false,
		"http://10.0.0.1:8080":           false,
		"http://192.168.1.10":            false,
		"http://203.0.113.5":             false,
		"http://tracker.example.org":     false,
		"http://[fe80::1%25lo]:80":       false,
		"http://0.0.0.0:8080":            false,
		"ftp://127.0.0.1/":               false,
		"127.0.0.1:8080":                 false,
		"http://127.0.0.1@10.0.0.1:8080": false, // userinfo trick
	} {
		err := CheckTarget(raw)
		if (err == nil) != ok {
			t.Errorf("CheckTarget(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestCheckDSN(t *testing.T) {
	for dsn, ok := range map[string]bool{
		"/var/lib/chat-tracker/tracker.db":                 true,
		"postgres://u:p@127.0.0.1:5432/db?sslmode=disable": true,
		"postgres://u:p@[::1]:5432/db":                     true,
		"postgres:///db?host=/var/run/postgresql":          true,
		"postgres://u:p@10.0.0.5:5432/db":                  false,
		"postgres://u:p@127.0.0.1:5432,10.0.0.5:5432/db":   false,
		"postgresql://u:p@db.example.org/db":               false,
		"postgres://u:p@localhost/db?sslmode=disable":      false,
	} {
		err := CheckDSN(dsn)
		if (err == nil) != ok {
			t.Errorf("CheckDSN(%q) = %v, want ok=%v", dsn, err, ok)
		}
	}
}

// FuzzCheckTarget: whatever CheckTarget accepts must name a loopback host.
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080", "http://[::1]/", "http://10.0.0.1", "http://127.0.0.1@10.0.0.1/", "https://[::ffff:127.0.0.1]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckTarget(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted unparsable %q", raw)
		}
		ip, err := netip.ParseAddr(u.Hostname())
		if err != nil || !ip.Unmap().IsLoopback() {
			t.Fatalf("accepted %q with host %q", raw, u.Hostname())
		}
	})
}

func TestPercentiles(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := Percentiles(s)
	want := Latency{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("Percentiles = %+v, want %+v", got, want)
	}
	if (Percentiles(nil) != Latency{}) {
		t.Fatal("Percentiles(nil) is not zero")
	}
}

func testConfig(url string) Config {
	return Config{URL: url, Users: 200, Workers: 8, Lookups: 500, Updates: 300, Duration: time.Minute, Verify: true}
}

func TestPhasesAgainstTracker(t *testing.T) {
	tr := trackertest.New(t)
	cfg := testConfig(tr.URL)
	ctx := t.Context()
	before := settledGoroutines(t, tr.URL)

	res := mustRun(t, "preload", func() (Result, error) { return Preload(ctx, cfg, nil) })
	assertOK(t, res, 200)
	res = mustRun(t, "lookups", func() (Result, error) { return Lookups(ctx, cfg) })
	assertOK(t, res, 500)
	res = mustRun(t, "updates", func() (Result, error) { return Updates(ctx, cfg) })
	assertOK(t, res, 300)
	if res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 || res.Latency.P99 < res.Latency.P50 {
		t.Errorf("implausible latencies %+v", res.Latency)
	}
	// 300 updates over 200 users: every user moved past seq 1.
	for _, i := range []int{0, 7, 199} {
		rec, err := tr.Store().Get(ctx, UserName(DefaultConfig().Prefix, i))
		if err != nil || rec.Seq <= 1 {
			t.Errorf("user %d after updates: seq %d, err %v", i, rec.Seq, err)
		}
	}
	// A second preload finds every user already there, and says so.
	res = mustRun(t, "preload again", func() (Result, error) { return Preload(ctx, cfg, nil) })
	if res.OK != 0 || res.Errors["name_taken"] != 200 {
		t.Errorf("second preload: %v, want 200 name_taken", res)
	}
	// Unverified lookups and updates measure the same thing more cheaply,
	// over raw connections.
	cfg.Verify = false
	assertOK(t, mustRun(t, "raw lookups", func() (Result, error) { return Lookups(ctx, cfg) }), 500)
	prev, _ := tr.Store().Get(ctx, UserName(DefaultConfig().Prefix, 3))
	assertOK(t, mustRun(t, "raw updates", func() (Result, error) { return Updates(ctx, cfg) }), 300)
	if after, err := tr.Store().Get(ctx, UserName(DefaultConfig().Prefix, 3)); err != nil || after.Seq <= prev.Seq {
		t.Errorf("raw updates left user 3 at seq %d (was %d): %v", after.Seq, prev.Seq, err)
	}
	checkGoroutines(t, before)
}

func TestPreloadDirect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tracker.db") // parent made by storeopen
	cfg := testConfig("http://127.0.0.1:1")
	cfg.PreloadDSN = path
	res := mustRun(t, "direct preload", func() (Result, error) { return Preload(t.Context(), cfg, nil) })
	assertOK(t, res, 200)

	st, err := sqlitestore.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tr := trackertest.New(t, trackertest.WithStore(st))
	cfg.URL = tr.URL
	// Verified lookups through the real server prove the records are signed right.
	assertOK(t, mustRun(t, "lookups", func() (Result, error) { return Lookups(t.Context(), cfg) }), 500)
	assertOK(t, mustRun(t, "updates", func() (Result, error) { return Updates(t.Context(), cfg) }), 300)
}

func TestRateLimitedTrackerStopsThePhase(t *testing.T) {
	tr := trackertest.New(t, trackertest.WithConfig(func(c *server.Config) { c.RateLimit, c.RateBurst = 1, 1 }))
	cfg := testConfig(tr.URL)
	cfg.Lookups = 10_000
	res, err := Lookups(t.Context(), cfg)
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("Lookups against a rate-limiting tracker: %v, want ErrRateLimited", err)
	}
	if res.Errors["rate_limited"] < abortAfterRateLimits {
		t.Fatalf("result %v does not show the rate limiting", res)
	}
}

func TestCountAndDurationBound(t *testing.T) {
	tr := trackertest.New(t)
	cfg := testConfig(tr.URL)
	cfg.Lookups = 37
	res, err := Lookups(t.Context(), cfg) // no users: every lookup is a 404
	if err != nil {
		t.Fatal(err)
	}
	if n := res.OK + res.Errors["not_found"]; n != 37 || res.OK != 0 {
		t.Fatalf("Lookups with limit 37 on an empty tracker: %v", res)
	}
	cfg.Lookups, cfg.Duration = 1_000_000_000, time.Nanosecond
	res, err = Lookups(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Errors["not_found"]; n > int64(cfg.Workers) {
		t.Fatalf("a 1ns phase sent %d requests, want at most one per worker", n)
	}
}

func TestCanceledContext(t *testing.T) {
	tr := trackertest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Lookups(ctx, testConfig(tr.URL)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lookups with a canceled context: %v", err)
	}
}

func mustRun(t *testing.T, what string, f func() (Result, error)) Result {
	t.Helper()
	res, err := f()
	if err != nil {
		t.Fatalf("%s: %v (%v)", what, err, res)
	}
	return res
}

func assertOK(t *testing.T, res Result, want int64) {
	t.Helper()
	if res.OK != want || len(res.Errors) != 0 {
		t.Fatalf("%s: %d ok, errors %v; want %d ok and no errors", res.Phase, res.OK, res.Errors, want)
	}
}

// settledGoroutines counts goroutines once the tracker's own have started:
// it serves one request and lets the connection's goroutines end.
func settledGoroutines(t *testing.T, url string) int {
	t.Helper()
	cfg := testConfig(url)
	cfg.Lookups = 1
	if _, err := Lookups(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	return runtime.NumGoroutine()
}

func checkGoroutines(t *testing.T, before int) { leakcheck.Wait(t, before) }
