package api

import (
	"fmt"
	"os"
	"testing"
)

// chatd (daemon/config's default) and chatctl (ctl/client) both take the
// socket from SocketPath, so CHATD_SOCKET moves both.
func TestSocketPath(t *testing.T) {
	t.Setenv("CHATD_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := SocketPath(); got != "/run/user/1000/chatd/control.sock" {
		t.Errorf("with XDG_RUNTIME_DIR: %s", got)
	}
	t.Setenv("CHATD_SOCKET", "/tmp/x.sock")
	if got := SocketPath(); got != "/tmp/x.sock" {
		t.Errorf("with CHATD_SOCKET: %s", got)
	}
	t.Setenv("CHATD_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got, want := SocketPath(), fmt.Sprintf("/run/user/%d/chatd/control.sock", os.Getuid()); got != want {
		t.Errorf("fallback: %s, want %s", got, want)
	}
}
