package api

import (
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// SocketPath is where chatd listens for chatctl unless told otherwise, and
// where chatctl looks: $CHATD_SOCKET, else $XDG_RUNTIME_DIR/chatd/control.sock,
// else /run/user/UID/chatd/control.sock. chatd and chatctl both call it, so
// setting CHATD_SOCKET moves both.
func SocketPath() string {
	if s := os.Getenv("CHATD_SOCKET"); s != "" {
		return s
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
	}
	return filepath.Join(dir, "chatd", "control.sock")
}

// HeartbeatInterval is how often chatd writes a heartbeat line on a quiet
// event stream. A client that has heard nothing for HeartbeatSilence
// presumes the daemon dead and reconnects.
const (
	HeartbeatInterval = 15 * time.Second
	HeartbeatSilence  = 3*HeartbeatInterval + 5*time.Second
)
