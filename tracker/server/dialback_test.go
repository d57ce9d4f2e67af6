package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeDial records the addresses a server dials instead of dialling them,
// so that these tests send no packet at all; block, if set, holds each
// dial until it is closed or the dial's context ends.
type fakeDial struct {
	mu    sync.Mutex
	addrs []netip.AddrPort
	block chan struct{}
}

func (f *fakeDial) dial(ctx context.Context, addr netip.AddrPort) error {
	f.mu.Lock()
	f.addrs = append(f.addrs, addr)
	f.mu.Unlock()
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (f *fakeDial) dialled() []netip.AddrPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]netip.AddrPort(nil), f.addrs...)
}

func dialbackServer(t testing.TB, cfg Config) (*Server, *fakeDial, *testTracker) {
	t.Helper()
	tt := &testTracker{clock: newClock()}
	cfg.Now = tt.clock.Now
	cfg.RateLimit, cfg.RateBurst = 1e9, 1e9
	srv, err := New(cfg, openStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDial{}
	srv.dialback.dial = f.dial
	return srv, f, tt
}

// announceFrom sends a registration (seq 1) or an update (seq > 1) of
// alice asking for a dial-back, as if from remote, and returns the answer.
func announceFrom(t testing.TB, srv *Server, tt *testTracker, remote string, seq uint64) (int, userResponse) {
	t.Helper()
	s := tt.signed(t, key(1), "alice", seq)
	method, path, body := "POST", "/v1/users", mustJSON(t, s)
	if seq > 1 {
		method, path, body = "PUT", "/v1/users/alice", updateBody(t, s, nil)
	}
	r := httptest.NewRequest(method, path+"?check=dialback", bytes.NewReader(body))
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	var u userResponse
	json.Unmarshal(w.Body.Bytes(), &u)
	return w.Code, u
}

func TestDialbackInFlightBound(t *testing.T) {
	srv, f, tt := dialbackServer(t, Config{DialbackMaxInFlight: 1, DialbackTimeout: time.Minute})
	f.block = make(chan struct{})
	first := make(chan string, 1)
	go func() {
		_, u := announceFrom(t, srv, tt, "127.0.0.1:1000", 1)
		first <- u.Dialback
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.dialled()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// The slot is taken: a second source's dial-back is skipped at once,
	// and its record is written all the same.
	code, u := announceFrom(t, srv, tt, "127.0.0.2:2000", 2)
	if code != http.StatusOK || u.Dialback != DialbackSkipped {
		t.Fatalf("while busy: %d %q, want 200 skipped", code, u.Dialback)
	}
	close(f.block)
	if got := <-first; got != DialbackReachable {
		t.Fatalf("first dial-back: %q", got)
	}
	if code, u := announceFrom(t, srv, tt, "127.0.0.2:2000", 3); code != http.StatusOK || u.Dialback != DialbackReachable {
		t.Fatalf("after the slot freed: %d %q", code, u.Dialback)
	}
}

func TestDialbackGlobalLimit(t *testing.T) {
	srv, f, tt := dialbackServer(t, Config{DialbackGlobalRate: 0.001, DialbackGlobalBurst: 2})
	var got []string
	for i := 0; i < 4; i++ {
		_, u := announceFrom(t, srv, tt, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}), 7171).String(), uint64(i+1))
		got = append(got, u.Dialback)
	}
	want := []string{DialbackReachable, DialbackReachable, DialbackSkipped, DialbackSkipped}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("answers from four sources %q, want %q", got, want)
		}
	}
	if n := len(f.dialled()); n != 2 {
		t.Fatalf("dialled %d times, want 2", n)
	}
}

func TestDialbackTimeoutIsUnreachable(t *testing.T) {
	srv, f, tt := dialbackServer(t, Config{DialbackTimeout: 50 * time.Millisecond})
	f.block = make(chan struct{}) // never answers, like a NAT that drops the SYN
	start := time.Now()
	code, u := announceFrom(t, srv, tt, "127.0.0.1:1000", 1)
	if code != http.StatusCreated || u.Dialback != DialbackUnreachable {
		t.Fatalf("%d %q, want 201 unreachable", code, u.Dialback)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the answer took %v with a 50ms dial-back timeout", took)
	}
}

func TestWantsDialback(t *testing.T) {
	cases := map[string]bool{
		"":                         false,
		"check=dialback":           true,
		"check=udp,dialback":       true,
		"check=udp&check=dialback": true,
		"check=%20dialback%20":     true,
		"check=dialbacks":          false,
		"dialback=1":               false,
		"check=dialback;x":         false, // ParseQuery refuses a pair with ';'
		"x=%zz&check=dialback":     true,  // and keeps the good pairs beside a bad one
		"CHECK=dialback":           false,
	}
	for q, want := range cases {
		if got := wantsDialback(&url.URL{RawQuery: q}); got != want {
			t.Errorf("?%s: %v, want %v", q, got, want)
		}
	}
}

// FuzzDialbackTarget: whatever the query, the forwarding headers and the
// record's addresses say, a server that trusts no proxy dials only the
// request's source address, and at most once.
func FuzzDialbackTarget(f *testing.F) {
	f.Add("check=dialback", "127.0.0.9:7000", "127.0.0.9:7000", uint16(4000))
	f.Add("check=dialback&addr=10.0.0.1:1", "for=10.0.0.1", "[::1]:80", uint16(1))
	f.Add("check=x,dialback,,", "", "garbage", uint16(0))
	srv, fd, tt := dialbackServer(f, Config{DialbackRate: 1e9, DialbackBurst: 1e9, DialbackGlobalRate: 1e9, DialbackGlobalBurst: 1e9})
	var seq uint64
	f.Fuzz(func(t *testing.T, query, header, addr string, port uint16) {
		seq++
		s := tt.signed(t, key(1), "alice", seq)
		s.Addrs = []string{addr}
		method, path, body := "POST", "/v1/users", mustJSON(t, s)
		if seq > 1 {
			method, path, body = "PUT", "/v1/users/alice", updateBody(t, s, nil)
		}
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.URL.RawQuery = query
		remote := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
		r.RemoteAddr = remote.String()
		for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
			r.Header.Set(h, header)
		}
		before := len(fd.dialled())
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		after := fd.dialled()[before:]
		if len(after) > 1 {
			t.Fatalf("one request dialled %v", after)
		}
		for _, a := range after {
			if a != remote {
				t.Fatalf("dialled %v for a request from %v (query %q header %q)", a, remote, query, header)
			}
		}
	})
}
