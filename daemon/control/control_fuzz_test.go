package control_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
	"github.com/p2pchat/p2pchat/internal/strictjson"
)

// FuzzRequest sends arbitrary requests (method, path with query, body) to
// the real control server on a real socket, backed by a fresh
// controltest.Backend each time so every input is reproducible. The seeds
// cover every endpoint with a valid request and with garbage. Whatever
// comes in:
//   - the answer carries chatd's version and is never a 5xx nor a 3xx
//     (ServeMux's redirect of a path with ".." or "//");
//   - an error is a JSON api.Error whose code gives its status;
//   - a success is JSON (NDJSON for the event stream, nothing for a 204);
//   - a message the daemon accepted to send is the one the request held.
func FuzzRequest(f *testing.F) {
	for _, s := range controlSeeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		req := fuzzRequest(method, path, body)
		if req == nil {
			return // not something an HTTP client can send
		}
		b := controltest.NewBackend("alice")
		b.AddUser("bob")
		b.AddUser("carol")
		if _, err := b.AddContact(context.Background(), "bob"); err != nil {
			t.Fatal(err)
		}
		b.Receive("bob", "hello")
		sock := controltest.ServeWith(t, &control.Server{Backend: b, Log: zap.NewNop(), UID: os.Getuid(), Version: "fuzz"})
		resp, err := fuzzClient(sock).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		defer resp.Body.Close()
		checkControlAnswer(t, req, body, resp)
	})
}

// fuzzRequest builds the request, or returns nil when net/http would not
// send it (an invalid method or URL) or would send it elsewhere.
func fuzzRequest(method, path string, body []byte) *http.Request {
	if method == "" {
		method = http.MethodGet
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequest(method, "http://"+api.Host+path, bytes.NewReader(body))
	if err != nil || req.URL.Host != api.Host || req.Method == http.MethodConnect {
		return nil
	}
	// net/http's client sends a raw query as it is, so a space or a
	// control byte in it makes a request line that net/http's server
	// refuses with a bare 400 before any of chatd's code runs.
	if strings.IndexFunc(req.URL.RequestURI(), func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil
	}
	return req
}

func fuzzClient(sock string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

func checkControlAnswer(t *testing.T, req *http.Request, body []byte, resp *http.Response) {
	t.Helper()
	what := req.Method + " " + req.URL.String()
	if v := resp.Header.Get(api.HeaderVersion); v != "fuzz" {
		t.Fatalf("%s: answer without chatd's version (%q)", what, v)
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusOK && ctype == "application/x-ndjson" {
		return // the event stream: it stays open, and its lines are FuzzDecodeEventLine's
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s: read answer: %v", what, err)
	}
	switch st := resp.StatusCode; {
	case st >= 500:
		t.Fatalf("%s: %d %s", what, st, data)
	case st >= 400:
		var e api.Error
		if ctype != "application/json" || strictjson.Decode(bytes.NewReader(data), &e) != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%s: %d is not a JSON api.Error: %s %q", what, st, ctype, data)
		}
		if e.HTTPStatus() != st {
			t.Fatalf("%s: code %s answered with %d, want %d", what, e.Code, st, e.HTTPStatus())
		}
	case st == http.StatusNoContent:
		if len(data) != 0 {
			t.Fatalf("%s: 204 with a body %q", what, data)
		}
	case st >= 300:
		t.Fatalf("%s: %d to %q: the API never redirects", what, st, resp.Header.Get("Location"))
	default:
		if ctype != "application/json" || !json.Valid(data) {
			t.Fatalf("%s: %d is not JSON: %s %q", what, st, ctype, data)
		}
		if req.Method == http.MethodPost && req.URL.Path == api.PathSend {
			checkSent(t, body, data)
		}
	}
}

// checkSent: a send the daemon accepted queued exactly what was asked.
func checkSent(t *testing.T, body, answer []byte) {
	t.Helper()
	var sr api.SendRequest
	if err := strictjson.Decode(bytes.NewReader(body), &sr); err != nil {
		t.Fatalf("send accepted a body that does not decode: %v: %q", err, body)
	}
	var m api.Message
	if err := json.Unmarshal(answer, &m); err != nil {
		t.Fatal(err)
	}
	if m.Peer != sr.To || m.Body != sr.Body || m.State != api.StateQueued || len(sr.Body) > api.MaxBodyBytes {
		t.Fatalf("send of %+v answered %+v", sr, m)
	}
}

// controlSeeds: for every endpoint, a valid request and some garbage.
var controlSeeds = []struct{ method, path, body string }{
	{"GET", "/v1/status", ""},
	{"POST", "/v1/status", "{}"},
	{"POST", "/v1/send", `{"to":"bob","body":"hi"}`},
	{"POST", "/v1/send", `{"to":"bob","body":""}`},
	{"POST", "/v1/send", `{"to":"nobody","body":"hi"}`},
	{"POST", "/v1/send", `{"to":"bob","body":"hi","x":1}`},
	{"POST", "/v1/send", `{"to":"bob","body":"hi"}{}`},
	{"POST", "/v1/send", `{"to":"bob","body":"\ud800"}`},
	{"POST", "/v1/send", `{"to":`},
	{"POST", "/v1/send", ""},
	{"GET", "/v1/messages/bob/00112233445566778899aabbccddeeff", ""},
	{"GET", "/v1/messages/bob/", ""},
	{"GET", "/v1/history/bob", ""},
	{"GET", "/v1/history/bob?limit=1&before=2", ""},
	{"GET", "/v1/history/bob?limit=-1", ""},
	{"GET", "/v1/history/bob?before=9223372036854775808", ""},
	{"GET", "/v1/history/%2e%2e", ""},
	{"GET", "/v1/contacts", ""},
	{"POST", "/v1/contacts", `{"name":"carol"}`},
	{"POST", "/v1/contacts", `{"name":""}`},
	{"POST", "/v1/contacts", `[]`},
	{"DELETE", "/v1/contacts/bob", ""},
	{"DELETE", "/v1/contacts/", ""},
	{"POST", "/v1/contacts/bob/verify", `{"fingerprint":"` + controltest.Fingerprint("bob") + `"}`},
	{"POST", "/v1/contacts/bob/verify", `{"fingerprint":null}`},
	{"GET", "/v1/requests", ""},
	{"POST", "/v1/requests/dave/accept", ""},
	{"DELETE", "/v1/requests/dave", ""},
	{"GET", "/v1/blocked", ""},
	{"POST", "/v1/blocked", `{"name":"dave"}`},
	{"DELETE", "/v1/blocked/dave", ""},
	{"GET", "/v1/events?after=0", ""},
	{"GET", "/v1/events?after=x", ""},
	{"POST", "/v1/init", `{"name":"alice"}`},
	{"DELETE", "/v1/registration", ""},
	{"PATCH", "/v2/anything", "\x00\xff"},
	{"GET", "//v1/status", ""},
	{"GET", "/v1/../v1/status", ""},
	{"POST", "/v1/./send", `{"to":"bob","body":"hi"}`},
	{"GET", "/v1/history/bob/", ""},
	{"DELETE", "/v1//contacts/bob", ""},
}
