package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/record"
)

// canned answers every request with one status and body, without a network.
type canned struct {
	status int
	body   []byte
}

func (c canned) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: c.status, Header: http.Header{"Retry-After": {"3"}},
		Body: io.NopCloser(bytes.NewReader(c.body))}, nil
}

// FuzzLookupResponse: no tracker answer can panic the client, and a lookup
// that succeeds always returns a verified record for the name asked.
func FuzzLookupResponse(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	s, err := record.Sign(record.Record{Name: "alice", PublicKey: priv.Public().(ed25519.PublicKey), Seq: 1,
		Expires: time.Unix(1<<40, 0)}, priv)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(map[string]any{"record": s, "observed_addr": "127.0.0.1:1", "reannounce_after": 60})
	f.Add(200, good)
	f.Add(410, append([]byte(`{"code":"expired","error":"x",`), good[1:]...))
	f.Add(404, []byte(`{"code":"not_found","error":"no"}`))
	f.Add(429, []byte(`{"code":"rate_limited"}`))
	f.Add(502, []byte(`<html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		c := New("http://tracker.invalid", &http.Client{Transport: canned{status, body}})
		rec, _, err := c.Lookup(context.Background(), "alice")
		if err == nil || isExpired(err) {
			if rec.Name != "alice" || rec.Verify() != nil {
				t.Fatalf("status %d body %q: lookup returned an unverified record (err %v)", status, body, err)
			}
		}
	})
}
