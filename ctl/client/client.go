// Package client is the typed Go client of chatd's control API (package
// ctl/api). The zero Client talks to the user's own daemon:
//
//	var c client.Client
//	st, err := c.Status(ctx)
//	if errors.Is(err, client.ErrDaemonNotRunning) { ... }
//	msg, err := c.Send(ctx, "bob", "hi")
//	if errors.Is(err, api.ErrUnknownUser) { ... }
//
// Every failed request returns an error wrapping *api.Error, so callers
// branch with errors.Is against the api sentinels or errors.As for the
// message and hint.
//
// Before sending anything on a new connection the client checks the
// server's uid (SO_PEERCRED) and refuses, with an error matching
// ErrForeignDaemon, a socket served by another user.
//
// Watch follows the event stream: Next returns events one by one, in order,
// and the Watcher reconnects by itself (resuming from the last event it
// returned) if the daemon restarts or the stream goes silent.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// ErrDaemonNotRunning means nothing listens on the control socket.
var ErrDaemonNotRunning = errors.New("chatd is not running")

// maxResponseBytes bounds a non-streaming response (a long history page).
const maxResponseBytes = 64 << 20

// Client talks to chatd's control socket. The zero value is ready to use;
// the fields may be set before the first call and not changed after.
type Client struct {
	// Socket is the control socket's path; empty means api.SocketPath().
	Socket string
	// Dial, if set, replaces dialling Socket (for tests and proxies).
	Dial func(ctx context.Context) (net.Conn, error)

	once          sync.Once
	hc            *http.Client
	daemonVersion atomic.Value // string: the last api.HeaderVersion seen
}

// DaemonVersion is chatd's version as its last response said, or "" before
// any response.
func (c *Client) DaemonVersion() string {
	v, _ := c.daemonVersion.Load().(string)
	return v
}

// SocketPath is the socket this client dials.
func (c *Client) SocketPath() string {
	if c.Socket != "" {
		return c.Socket
	}
	return api.SocketPath()
}

func (c *Client) http() *http.Client {
	c.once.Do(func() {
		c.hc = &http.Client{Transport: &http.Transport{
			DialContext:  func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
			MaxIdleConns: 2,
		}}
	})
	return c.hc
}

// dial connects and checks that the server runs as our uid before the
// transport writes a byte (checkServer).
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var conn net.Conn
	var err error
	if c.Dial != nil {
		conn, err = c.Dial(ctx)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "unix", c.SocketPath())
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, &notRunningError{socket: c.SocketPath(), err: err}
		}
	}
	if err != nil {
		return nil, err
	}
	if err := c.checkServer(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// notRunningError keeps the socket path for the message while matching
// ErrDaemonNotRunning.
type notRunningError struct {
	socket string
	err    error
}

func (e *notRunningError) Error() string {
	return fmt.Sprintf("chatd is not running (no daemon on %s)", e.socket)
}
func (e *notRunningError) Is(target error) bool { return target == ErrDaemonNotRunning }
func (e *notRunningError) Unwrap() error        { return e.err }

// do sends one request and decodes a 2xx JSON response into out (if not
// nil). The URL's host is a placeholder: the transport always dials the
// socket.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send performs the request and turns a dial failure or non-2xx status into
// an error; on success the caller owns resp.Body.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+api.Host+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		var nr *notRunningError
		if errors.As(err, &nr) {
			return nil, nr
		}
		var fe *foreignError
		if errors.As(err, &fe) {
			return nil, fe
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" { // e.g. permission denied on someone else's socket
			return nil, fmt.Errorf("connect to chatd on %s: %w", c.SocketPath(), op.Err)
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if v := resp.Header.Get(api.HeaderVersion); v != "" {
		c.daemonVersion.Store(v)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

// responseError reads the api.Error body of a failed response, or makes
// one from the status when the body is not one.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ae api.Error
	if json.Unmarshal(b, &ae) == nil && ae.Code != "" && ae.Message != "" {
		return &ae
	}
	return &api.Error{Code: api.CodeForStatus(resp.StatusCode),
		Message: fmt.Sprintf("chatd answered %s", resp.Status)}
}

// CloseIdleConnections closes kept-alive connections to the daemon; call
// it when done with a Client that will not be used again soon.
func (c *Client) CloseIdleConnections() {
	c.http().CloseIdleConnections()
}
