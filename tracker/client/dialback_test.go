package client

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// recorder answers every request with one status and body and remembers
// the URLs asked for.
type recorder struct {
	canned
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return r.canned.RoundTrip(req)
}

func TestWithDialbackAsksAndReads(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	s, err := record.Sign(record.Record{Name: "alice", PublicKey: priv.Public().(ed25519.PublicKey), Seq: 1,
		Expires: time.Now().Add(time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]Dialback{
		`{"observed_addr":"127.0.0.1:7","reannounce_after":60,"dialback":"reachable"}`:   DialbackReachable,
		`{"observed_addr":"127.0.0.1:7","reannounce_after":60,"dialback":"unreachable"}`: DialbackUnreachable,
		`{"observed_addr":"127.0.0.1:7","reannounce_after":60,"dialback":"skipped"}`:     DialbackSkipped,
		`{"observed_addr":"127.0.0.1:7","reannounce_after":60}`:                          DialbackNone, // an older tracker
		`{"observed_addr":"127.0.0.1:7","reannounce_after":60,"dialback":"maybe"}`:       DialbackNone,
	} {
		rec := &recorder{canned: canned{http.StatusOK, []byte(body)}}
		c := New("http://tracker.invalid", &http.Client{Transport: rec})
		ann, err := c.Update(context.Background(), s, WithDialback())
		if err != nil || ann.Dialback != want {
			t.Errorf("%s: dialback %q err %v, want %q", body, ann.Dialback, err, want)
		}
		if got := rec.urls[0]; got != "http://tracker.invalid/v1/users/alice?check=dialback" {
			t.Errorf("asked %s", got)
		}
	}
	rec := &recorder{canned: canned{http.StatusCreated, []byte(`{}`)}}
	c := New("http://tracker.invalid", &http.Client{Transport: rec})
	if _, err := c.Register(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(context.Background(), s, WithDialback()); err != nil {
		t.Fatal(err)
	}
	if rec.urls[0] != "http://tracker.invalid/v1/users" || rec.urls[1] != "http://tracker.invalid/v1/users?check=dialback" {
		t.Errorf("asked %q", rec.urls)
	}
}

// FuzzAnnounceResponse: no answer to an update that asked for a dial-back
// can panic the client, and Dialback is always one of the known values.
func FuzzAnnounceResponse(f *testing.F) {
	f.Add(200, []byte(`{"observed_addr":"127.0.0.1:7","reannounce_after":60,"dialback":"reachable"}`))
	f.Add(200, []byte(`{"dialback":"skipped\u0000"}`))
	f.Add(200, []byte(`{"dialback":null}`))
	f.Add(429, []byte(`{"code":"rate_limited","dialback":"reachable"}`))
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	s, err := record.Sign(record.Record{Name: "alice", PublicKey: priv.Public().(ed25519.PublicKey), Seq: 1,
		Expires: time.Unix(1<<40, 0)}, priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		c := New("http://tracker.invalid", &http.Client{Transport: canned{status, body}})
		ann, err := c.Update(context.Background(), s, WithDialback())
		switch ann.Dialback {
		case DialbackNone, DialbackReachable, DialbackUnreachable, DialbackSkipped:
		default:
			t.Fatalf("status %d body %q: dialback %q", status, body, ann.Dialback)
		}
		if err != nil && ann != (Announce{}) {
			t.Fatalf("status %d body %q: an error (%v) with an announce %+v", status, body, err, ann)
		}
	})
}
