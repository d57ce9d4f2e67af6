package client_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
)

// answerDial answers every request with status and body.
func answerDial(status int, body []byte) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		srv, cli := net.Pipe()
		go func() {
			defer srv.Close()
			if _, err := http.ReadRequest(bufio.NewReader(srv)); err != nil {
				return
			}
			fmt.Fprintf(srv, "HTTP/1.1 %d Fuzz\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, len(body))
			srv.Write(body)
		}()
		return cli, nil
	}
}

// FuzzResponse answers the client's requests with arbitrary statuses and
// bodies. Nothing may panic; every failure status becomes an *api.Error
// with a code and a message (the daemon's own when its body is one); a
// success whose body does not decode is an error, not a zero value passed
// off as an answer.
func FuzzResponse(f *testing.F) {
	f.Add(200, []byte(`{"name":"alice","fingerprint":"abcd","sessions":1}`))
	f.Add(200, []byte(`[{"id":"aa","peer":"bob","body":"hi","seq":1}]`))
	f.Add(200, []byte(`{"name":`))
	f.Add(200, []byte(``))
	f.Add(404, []byte(`{"error":"no user \"x\" on the tracker","code":"unknown_user","hint":"check the name"}`))
	f.Add(409, []byte(`{"error":"","code":"key_mismatch"}`))
	f.Add(500, []byte(`<html>oops</html>`))
	f.Add(503, []byte(`{"error":"tracker unreachable","code":"unavailable"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 || status == http.StatusNoContent || status == http.StatusNotModified {
			return // a 1xx, 204 or 304 has no body for net/http to read
		}
		c := &client.Client{Dial: answerDial(status, body)}
		defer c.CloseIdleConnections()
		ctx := context.Background()
		_, err := c.Status(ctx)
		checkAnswerErr(t, "status", status, body, err)
		_, err = c.History(ctx, "bob", 10, 0)
		checkAnswerErr(t, "history", status, body, err)
		_, err = c.Send(ctx, "bob", "hi")
		checkAnswerErr(t, "send", status, body, err)
	})
}

func checkAnswerErr(t *testing.T, what string, status int, body []byte, err error) {
	t.Helper()
	if status/100 == 2 {
		if err != nil && !strings.Contains(err.Error(), "decode response") {
			t.Fatalf("%s: %d %q: %v", what, status, body, err)
		}
		if err == nil && !json.Valid(body) && !validPrefix(body) {
			t.Fatalf("%s: %d %q accepted", what, status, body)
		}
		return
	}
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code == "" || ae.Message == "" {
		t.Fatalf("%s: %d %q gave %#v, want an *api.Error with a code and a message", what, status, body, err)
	}
	var sent api.Error
	if json.Unmarshal(body, &sent) == nil && sent.Code != "" && sent.Message != "" && *ae != sent {
		t.Fatalf("%s: the daemon said %+v, the client %+v", what, sent, *ae)
	}
}

// validPrefix: the client reads one JSON value and ignores what follows.
func validPrefix(b []byte) bool {
	var v any
	return json.NewDecoder(strings.NewReader(string(b))).Decode(&v) == nil
}
