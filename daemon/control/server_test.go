package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

// rawClient speaks plain HTTP to the socket, so tests see exactly what
// the server sends.
func rawClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
}

func request(t *testing.T, sock, method, path, body string, hdr ...string) (int, api.Error) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://chatd"+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rawClient(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ae api.Error
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &ae); err != nil {
			t.Fatalf("%s %s: error body is not JSON: %q", method, path, b)
		}
	}
	return resp.StatusCode, ae
}

func TestRefusesBrowserRequests(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := controltest.Serve(t, controltest.NewBackend("alice"))
	for _, h := range []string{"Origin", "Referer"} {
		code, ae := request(t, sock, "GET", api.PathStatus, "", h, "http://evil.example")
		if code != http.StatusForbidden || ae.Code != api.CodeForbidden {
			t.Errorf("%s header: got %d %+v, want 403 forbidden", h, code, ae)
		}
	}
	if code, _ := request(t, sock, "GET", api.PathStatus, ""); code != http.StatusOK {
		t.Errorf("plain request: got %d", code)
	}
}

func TestRequestValidation(t *testing.T) {
	controltest.CheckGoroutines(t)
	b := controltest.NewBackend("alice")
	b.AddUser("bob")
	sock := controltest.Serve(t, b)
	big := strings.Repeat("x", api.MaxBodyBytes+1)
	huge := strings.Repeat("x", 7*api.MaxBodyBytes)
	cases := []struct {
		name, method, path, body, code string
	}{
		{"unknown field", "POST", api.PathSend, `{"to":"bob","text":"hi"}`, api.CodeBadRequest},
		{"trailing data", "POST", api.PathSend, `{"to":"bob","body":"hi"} {}`, api.CodeBadRequest},
		{"empty body", "POST", api.PathSend, `{"to":"bob","body":""}`, api.CodeBadRequest},
		{"no recipient", "POST", api.PathSend, `{"body":"hi"}`, api.CodeBadRequest},
		{"message over 64 KiB", "POST", api.PathSend, `{"to":"bob","body":"` + big + `"}`, api.CodeTooLarge},
		{"request over limit", "POST", api.PathSend, `{"to":"bob","body":"` + huge + `"}`, api.CodeTooLarge},
		{"unknown user", "POST", api.PathSend, `{"to":"bobb","body":"hi"}`, api.CodeUnknownUser},
		{"bad limit", "GET", "/v1/history/bob?limit=-3", "", api.CodeBadRequest},
		{"bad cursor", "GET", "/v1/events?after=x", "", api.CodeBadRequest},
		{"no such endpoint", "GET", "/v2/status", "", api.CodeNotFound},
		{"wrong method", "PUT", api.PathStatus, "", api.CodeNotFound},
		{"remove non-contact", "DELETE", "/v1/contacts/bob", "", api.CodeNotFound},
	}
	for _, tc := range cases {
		status, ae := request(t, sock, tc.method, tc.path, tc.body)
		if ae.Code != tc.code || status != (&api.Error{Code: tc.code}).HTTPStatus() {
			t.Errorf("%s: got %d %+v, want code %s", tc.name, status, ae, tc.code)
		}
		if ae.Message == "" || strings.ToLower(ae.Message[:1]) != ae.Message[:1] {
			t.Errorf("%s: error message %q is not one lower-case line", tc.name, ae.Message)
		}
	}
	_, ae := request(t, sock, "POST", api.PathSend, `{"to":"bob","body":"`+big+`"}`)
	if ae.Hint == "" {
		t.Error("too_large has no hint")
	}
}

type failingBackend struct{ *controltest.Backend }

func (failingBackend) Contacts(context.Context) ([]api.Contact, error) {
	return nil, errors.New("disk I/O error: /secret/path/store.db")
}

func TestInternalErrorsStayInternal(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := controltest.Serve(t, failingBackend{controltest.NewBackend("alice")})
	status, ae := request(t, sock, "GET", api.PathContacts, "")
	if status != http.StatusInternalServerError || ae.Code != api.CodeInternal {
		t.Fatalf("got %d %+v, want 500 internal", status, ae)
	}
	if strings.Contains(ae.Message, "secret") {
		t.Errorf("internal detail leaked to the client: %q", ae.Message)
	}
}

func TestEmptyListsAreArrays(t *testing.T) {
	controltest.CheckGoroutines(t)
	b := controltest.NewBackend("alice")
	b.AddUser("bob")
	sock := controltest.Serve(t, b)
	for _, p := range []string{api.PathContacts, api.HistoryPath("bob", 0, 0)} {
		resp, err := rawClient(sock).Get("http://chatd" + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("%s: got %q, want []", p, body)
		}
	}
}

func TestEventStreamHeartbeatAndShutdown(t *testing.T) {
	controltest.CheckGoroutines(t)
	controltest.CheckGoroutines(t)
	b := controltest.NewBackend("alice")
	dir := shortDir(t)
	ln, err := control.Listen(filepath.Join(dir, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &control.Server{Backend: b, Log: zaptest.NewLogger(t), UID: os.Getuid(), Heartbeat: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	resp, err := rawClient(filepath.Join(dir, "control.sock")).Get("http://chatd" + api.EventsPath(0))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.DecodeEventLine(line); !errors.Is(err, api.ErrHeartbeat) {
		t.Fatalf("quiet stream sent %q, want a heartbeat", line)
	}
	b.Receive("bob", "hello")
	for {
		line, err = r.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := api.DecodeEventLine(line); err == nil {
			if ev.Type != api.EventMessage || ev.Message.Body != "hello" {
				t.Fatalf("got event %+v", ev)
			}
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := io.ReadAll(r); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("stream ended with %v", err)
	}
}

// A path with ".", ".." or "//" gets the API's JSON error, never
// ServeMux's redirect (an HTML body, and a client that follows it sends
// its request, body and all, to another endpoint).
func TestUncleanPathIsAJSONError(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := controltest.Serve(t, controltest.NewBackend("alice"))
	c := rawClient(sock)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct{ method, path string }{
		{"GET", "//v1/status"},
		{"GET", "/v1/../v1/status"},
		{"GET", "/v1/./status"},
		{"GET", "/v1/history/%2e%2e"},
		{"GET", "/v1/history/bob/.."},
		{"POST", "/v1//send"},
		{"DELETE", "/v1/contacts/bob/../carol"},
	} {
		req, _ := http.NewRequest(tc.method, "http://chatd"+tc.path, strings.NewReader(`{"to":"bob","body":"hi"}`))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ae api.Error
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" ||
			json.Unmarshal(b, &ae) != nil || ae.Code != api.CodeBadRequest || !strings.Contains(ae.Message, "clean form") {
			t.Errorf("%s %s: %d (Location %q) %q, want 400 and a JSON bad_request", tc.method, tc.path,
				resp.StatusCode, resp.Header.Get("Location"), b)
		}
	}
	if code, _ := request(t, sock, "GET", api.PathStatus, ""); code != http.StatusOK {
		t.Errorf("clean path: got %d", code)
	}
}
