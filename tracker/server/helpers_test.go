package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"

	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/sqlitestore"
)

// clock is a settable clock for tests of expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(time.Now().Unix(), 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testTracker struct {
	url   string
	store store.Store
	srv   *Server
	clock *clock
	http  *http.Client
}

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "tracker.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startTracker runs a real server on 127.0.0.1 over a real SQLite file and
// stops it (checking Serve's result and goroutine leaks) at cleanup.
func startTracker(t *testing.T, cfg Config) *testTracker {
	t.Helper()
	checkLeaks(t)
	return startTrackerOn(t, openStore(t), cfg)
}

// startTrackerOn is startTracker on a store the caller opened (and, for
// the leak check, opened after calling checkLeaks).
func startTrackerOn(t *testing.T, st store.Store, cfg Config) *testTracker {
	t.Helper()
	tt := &testTracker{store: st, clock: newClock()}
	if cfg.Now == nil {
		cfg.Now = tt.clock.Now
	}
	srv, err := New(cfg, tt.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	tt.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tt.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tr := &http.Transport{}
	tt.http = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	})
	return tt
}

// checkLeaks fails the test if goroutines started during it are still
// running once it has cleaned up.
func checkLeaks(t *testing.T) { leakcheck.Check(t) }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errBody(t *testing.T) errorResponse {
	t.Helper()
	var e errorResponse
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("status %d body %q is not a JSON error: %v", r.status, r.body, err)
	}
	return e
}

func (r response) userBody(t *testing.T) userResponse {
	t.Helper()
	var u userResponse
	if err := json.Unmarshal(r.body, &u); err != nil {
		t.Fatalf("status %d body %q is not a user response: %v", r.status, r.body, err)
	}
	return u
}

func (tt *testTracker) do(t *testing.T, method, path string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, tt.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tt.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func (tt *testTracker) signed(t testing.TB, priv ed25519.PrivateKey, name string, seq uint64) record.Signed {
	t.Helper()
	s, err := record.Sign(record.Record{Name: name, PublicKey: pubOf(priv), Addrs: []string{"192.0.2.1:7000"},
		Seq: seq, Expires: tt.clock.Now().Add(time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (tt *testTracker) register(t *testing.T, s record.Signed) {
	t.Helper()
	if r := tt.do(t, "POST", "/v1/users", mustJSON(t, s)); r.status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", s.Name, r.status, r.body)
	}
}

func updateBody(t testing.TB, s record.Signed, rotation []byte) []byte {
	req := map[string]any{"record": s}
	if rotation != nil {
		req["rotation_signature"] = rotation // []byte marshals as base64
	}
	return mustJSON(t, req)
}

func deleteBody(t testing.TB, priv ed25519.PrivateKey, name string, seq uint64) []byte {
	d := record.Deletion{Name: name, PublicKey: pubOf(priv), Seq: seq}
	return mustJSON(t, map[string]any{"public_key": []byte(d.PublicKey), "seq": seq, "signature": record.SignDeletion(d, priv)})
}
