package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection owned by one worker. The
// lookup phase uses it instead of net/http's client, whose per-request
// goroutine hand-offs cost the load generator about as much CPU as a
// lookup costs the tracker: on a 2-core machine the generator, not the
// tracker, would be measured. It speaks plain HTTP/1.1 (GET, a
// Content-Length body), which is all the tracker's lookups need.
type rawConn struct {
	host string // for the Host header
	addr string // host:port to dial
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newRawConn(base string) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("raw http client: %q is not an http:// URL", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	if !isLoopbackAddr(addr) {
		return nil, fmt.Errorf("dial %s: %w", addr, ErrNotLoopback)
	}
	return &rawConn{host: u.Host, addr: addr}, nil
}

// get sends GET path and returns the status, reading the body whole so the
// connection can carry the next request. A broken connection is redialled
// on the next call.
func (rc *rawConn) get(ctx context.Context, path string) (int, error) {
	if err := rc.dial(ctx); err != nil {
		return 0, err
	}
	status, err := rc.roundTrip(path)
	if err != nil {
		rc.close()
	}
	return status, err
}

// dial connects, unless connected.
func (rc *rawConn) dial(ctx context.Context) error {
	if rc.c != nil {
		return nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", rc.addr)
	if err != nil {
		return err
	}
	rc.c, rc.r, rc.w = c, bufio.NewReaderSize(c, 8<<10), bufio.NewWriterSize(c, 4<<10)
	return nil
}

func (rc *rawConn) roundTrip(path string) (int, error) {
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(rc.w, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, rc.host)
	return rc.readResponse()
}

// send writes req, a whole request made by rawRequest, and returns the
// status of the response, redialling first if needed.
func (rc *rawConn) send(ctx context.Context, req []byte) (int, error) {
	if err := rc.dial(ctx); err != nil {
		return 0, err
	}
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	rc.w.Write(req)
	status, err := rc.readResponse()
	if err != nil {
		rc.close()
	}
	return status, err
}

// rawRequest is a whole HTTP/1.1 request with a JSON body, made before a
// timed phase so that the generator spends its CPU on sending.
func rawRequest(method, path, host string, body []byte) []byte {
	req := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", method, path, host, len(body))
	return append(req, body...)
}

// readResponse flushes the request and reads the response to it.
func (rc *rawConn) readResponse() (int, error) {
	if err := rc.w.Flush(); err != nil {
		return 0, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errors.New("malformed status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("malformed status line: %w", err)
	}
	length, closeAfter := -1, false
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, fmt.Errorf("bad content-length: %w", err)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, errors.New("chunked responses are not supported")
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closeAfter = true
		}
	}
	if length < 0 {
		return 0, errors.New("response without content-length")
	}
	if _, err := rc.r.Discard(length); err != nil {
		return 0, err
	}
	if closeAfter {
		rc.close()
	}
	return status, nil
}

func (rc *rawConn) close() {
	if rc.c != nil {
		rc.c.Close()
		rc.c = nil
	}
}

// statusClass names a lookup's outcome as the other phases do.
func statusClass(status int, err error) string {
	switch {
	case err != nil && errors.Is(err, io.EOF):
		return "transport"
	case err != nil:
		return "transport"
	case status == 200:
		return ""
	case status == 404:
		return "not_found"
	case status == 410:
		return "expired"
	case status == 429:
		return "rate_limited"
	}
	return fmt.Sprintf("http_%d", status)
}
