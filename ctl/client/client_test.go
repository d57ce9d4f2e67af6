package client_test

// The client against the real control server (every route, typed errors,
// waiting for delivery, the watcher across a restart) is tested in
// daemon/control, since ctl never imports daemon. Here: what needs no
// daemon at all.

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

func TestDaemonNotRunning(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	c := &client.Client{Socket: filepath.Join(dir, "nothing.sock")}
	defer c.CloseIdleConnections()
	_, err := c.Status(context.Background())
	if !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("no socket: got %v, want ErrDaemonNotRunning", err)
	}
	if !strings.Contains(err.Error(), "nothing.sock") {
		t.Errorf("error does not name the socket: %v", err)
	}
	if _, err := c.Watch(context.Background(), 0); !errors.Is(err, client.ErrDaemonNotRunning) {
		t.Fatalf("Watch with no socket: got %v", err)
	}
}
