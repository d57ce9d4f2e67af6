package load

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

// roundTripOver runs one rawConn round trip against a canned response.
func roundTripOver(resp []byte) (int, error) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		br := bufio.NewReader(server)
		for { // consume the request
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		server.Write(resp) // fails once the client hangs up
	}()
	rc := &rawConn{host: "127.0.0.1:1", c: client, r: bufio.NewReader(client), w: bufio.NewWriter(client)}
	return rc.roundTrip("/v1/users/x")
}

func TestRawConnParsesResponses(t *testing.T) {
	for _, c := range []struct {
		resp    string
		status  int
		wantErr bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 200, false},
		{"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", 404, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, true},
		{"HTTP/1.1 200 OK\r\n\r\n", 0, true},
		{"SSH-2.0-OpenSSH\r\n", 0, true},
		{"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", 0, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, true},
	} {
		status, err := roundTripOver([]byte(c.resp))
		if (err != nil) != c.wantErr || (!c.wantErr && status != c.status) {
			t.Errorf("%q: status %d err %v; want %d, error %v", c.resp, status, err, c.status, c.wantErr)
		}
	}
}

func FuzzRawResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	f.Fuzz(func(t *testing.T, resp []byte) {
		status, err := roundTripOver(resp)
		if err == nil && (status < 0 || status > 999) {
			t.Fatalf("status %d from %q", status, resp)
		}
		if err == nil && !bytes.HasPrefix(resp, []byte("HTTP/1.")) {
			t.Fatalf("accepted a response that is not HTTP: %q", resp)
		}
	})
}
