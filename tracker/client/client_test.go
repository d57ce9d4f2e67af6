package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"

	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/server"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func sign(t *testing.T, priv ed25519.PrivateKey, name string, seq uint64, exp time.Time) record.Signed {
	t.Helper()
	s, err := record.Sign(record.Record{Name: name, PublicKey: priv.Public().(ed25519.PublicKey),
		Addrs: []string{"192.0.2.1:7000"}, Seq: seq, Expires: exp}, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkLeaks(t *testing.T) { leakcheck.Check(t) }

// localAddrClient records the local address of every connection it dials,
// as chatd's reuseport dialer would fix it.
type localAddrClient struct {
	mu    sync.Mutex
	local []netip.AddrPort
}

func (l *localAddrClient) httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			l.mu.Lock()
			l.local = append(l.local, c.LocalAddr().(*net.TCPAddr).AddrPort())
			l.mu.Unlock()
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestLifecycleAgainstRealTracker(t *testing.T) {
	checkLeaks(t)
	tr := trackertest.New(t)
	var dialed localAddrClient
	c := client.New(tr.URL, dialed.httpClient(t))
	ctx := context.Background()
	alice, alice2 := key(1), key(2)
	exp := time.Now().Add(time.Hour)

	ann, err := c.Register(ctx, sign(t, alice, "alice", 1, exp))
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if len(dialed.local) != 1 || ann.Observed != netip.AddrPortFrom(dialed.local[0].Addr().Unmap(), dialed.local[0].Port()) {
		t.Errorf("observed %v, want the address we dialled from %v", ann.Observed, dialed.local)
	}
	if ann.ReannounceAfter < 19*time.Minute || ann.ReannounceAfter > 20*time.Minute {
		t.Errorf("reannounce after %v, want about a third of an hour", ann.ReannounceAfter)
	}
	if _, err := c.Register(ctx, sign(t, alice2, "alice", 1, exp)); !errors.Is(err, client.ErrNameTaken) {
		t.Errorf("second registration: %v, want ErrNameTaken", err)
	}

	rec, _, err := c.Lookup(ctx, "alice")
	if err != nil || rec.Seq != 1 || !rec.PublicKey.Equal(alice.Public()) {
		t.Fatalf("lookup: %+v, %v", rec, err)
	}

	upd := sign(t, alice, "alice", 2, exp)
	if _, err := c.Update(ctx, upd); err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, err := c.Update(ctx, upd); !errors.Is(err, client.ErrStaleSeq) {
		t.Errorf("replayed update: %v, want ErrStaleSeq", err)
	}
	if _, err := c.Update(ctx, sign(t, alice2, "alice", 3, exp)); !errors.Is(err, client.ErrKeyMismatch) {
		t.Errorf("update with another key: %v, want ErrKeyMismatch", err)
	}

	// The client cannot rotate keys (chatd never does); the tracker can.
	if err := tr.Rotate(ctx, sign(t, alice2, "alice", 3, exp), alice); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if rec, _, err := c.Lookup(ctx, "alice"); err != nil || !rec.PublicKey.Equal(alice2.Public()) {
		t.Fatalf("lookup after rotation: %v, key changed: %v", err, rec.PublicKey.Equal(alice2.Public()))
	}

	d := record.Deletion{Name: "alice", PublicKey: alice2.Public().(ed25519.PublicKey), Seq: 4}
	if err := c.Delete(ctx, d, record.SignDeletion(d, alice)); !errors.Is(err, client.ErrBadSignature) {
		t.Errorf("deletion signed by the wrong key: %v, want ErrBadSignature", err)
	}
	if err := c.Delete(ctx, d, record.SignDeletion(d, alice2)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, _, err := c.Lookup(ctx, "alice"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("lookup after delete: %v, want ErrNotFound", err)
	}
}

func TestLookupExpiredReturnsRecord(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tr := trackertest.New(t, trackertest.WithClock(clock))
	c := tr.Client()
	ctx := context.Background()
	if _, err := c.Register(ctx, sign(t, key(1), "bob", 1, now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	rec, _, err := c.Lookup(ctx, "bob")
	if !errors.Is(err, client.ErrExpired) {
		t.Fatalf("lookup of expired record: %v, want ErrExpired", err)
	}
	if rec.Name != "bob" || rec.Verify() != nil {
		t.Fatalf("expired lookup returned %+v, want bob's verified record", rec)
	}
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusGone {
		t.Fatalf("error %v is not a 410 APIError", err)
	}
}

func TestRateLimitedHasRetryAfter(t *testing.T) {
	tr := trackertest.New(t, trackertest.WithConfig(func(c *server.Config) { c.RateLimit, c.RateBurst = 0.01, 1 }))
	c := tr.Client()
	ctx := context.Background()
	_, _, err := c.Lookup(ctx, "nobody")
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("first lookup: %v, want ErrNotFound", err)
	}
	_, _, err = c.Lookup(ctx, "nobody")
	var apiErr *client.APIError
	if !errors.Is(err, client.ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.RetryAfter <= 0 {
		t.Fatalf("second lookup: %v, want ErrRateLimited with RetryAfter", err)
	}
}

func TestBadInputIsBadRequest(t *testing.T) {
	tr := trackertest.New(t, trackertest.WithMaxTTL(time.Hour))
	_, err := tr.Client().Register(context.Background(), sign(t, key(1), "carol", 1, time.Now().Add(2*time.Hour)))
	var apiErr *client.APIError
	if !errors.Is(err, client.ErrBadRequest) || !errors.As(err, &apiErr) || apiErr.Code != "bad_expires" {
		t.Fatalf("register beyond max ttl: %v, want ErrBadRequest with code bad_expires", err)
	}
	if _, _, err := tr.Client().Lookup(context.Background(), "Carol"); !errors.Is(err, record.ErrBadName) {
		t.Fatalf("lookup of an invalid name: %v, want record.ErrBadName", err)
	}
}

// A tracker cannot pass off a forged or misdirected record.
func TestLookupRefusesForgedRecords(t *testing.T) {
	good := sign(t, key(1), "alice", 1, time.Now().Add(time.Hour))
	forged := good
	forged.Addrs = []string{"203.0.113.66:7000"}
	cases := map[string]func(w http.ResponseWriter){
		"forged addrs": func(w http.ResponseWriter) { answer(w, 200, map[string]any{"record": forged}) },
		"other name": func(w http.ResponseWriter) {
			answer(w, 200, map[string]any{"record": sign(t, key(1), "mallory", 1, time.Now().Add(time.Hour))})
		},
		"no record": func(w http.ResponseWriter) { answer(w, 200, map[string]any{}) },
		"not json":  func(w http.ResponseWriter) { w.WriteHeader(200); w.Write([]byte("<html>")) },
		"forged 410": func(w http.ResponseWriter) {
			answer(w, 410, map[string]any{"code": "expired", "error": "x", "record": forged})
		},
	}
	for name, handler := range cases {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { handler(w) }))
			defer ts.Close()
			_, _, err := client.New(ts.URL, ts.Client()).Lookup(context.Background(), "alice")
			if !errors.Is(err, client.ErrBadRecord) {
				t.Fatalf("lookup: %v, want ErrBadRecord", err)
			}
		})
	}
}

func TestForeignErrorPages(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer ts.Close()
	_, err := client.New(ts.URL, ts.Client()).Register(context.Background(), sign(t, key(1), "alice", 1, time.Now().Add(time.Hour)))
	var apiErr *client.APIError
	if !errors.Is(err, client.ErrUnavailable) || !errors.As(err, &apiErr) || apiErr.RetryAfter != 7*time.Second {
		t.Fatalf("502 from a proxy: %v, want ErrUnavailable with RetryAfter 7s", err)
	}
	if errors.Is(err, client.ErrNotFound) {
		t.Fatal("a proxy error must not look like a missing user")
	}
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
