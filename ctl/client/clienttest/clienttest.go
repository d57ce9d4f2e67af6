// Package clienttest serves a stand-in for chatd's control socket, for
// tests of chatctl's side (ctl never imports daemon, so these tests cannot
// run the real server; daemon/control's tests and e2e do).
//
//	sock := clienttest.Serve(t, handler)
//	c := &client.Client{Socket: sock}
package clienttest

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Serve answers HTTP on a fresh Unix socket with h until the test ends, and
// returns the socket's path.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl") // short: socket paths have a 108-byte limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return sock
}
