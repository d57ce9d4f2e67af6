package controltest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/daemon/control"
)

// Serve serves b on a fresh control socket until the test ends and returns
// the socket's path. The directory comes from os.MkdirTemp rather than
// t.TempDir because Unix socket paths are limited to 108 bytes.
func Serve(t testing.TB, b control.Backend) string {
	t.Helper()
	return ServeWith(t, &control.Server{Backend: b, Log: zaptest.NewLogger(t), UID: os.Getuid()})
}

// ServeWith is Serve for a caller-configured server (say, a short
// heartbeat).
func ServeWith(t testing.TB, srv *control.Server) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "control.sock")
	ln, err := control.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("control server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("control server did not stop")
		}
	})
	return sock
}
