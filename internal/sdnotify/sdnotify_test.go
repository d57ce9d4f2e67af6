package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// fakeSystemd listens where NOTIFY_SOCKET points and returns what arrives.
func fakeSystemd(t *testing.T) *net.UnixConn {
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func read(t *testing.T, c *net.UnixConn) []string {
	var got []string
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

func TestMessages(t *testing.T) {
	c := fakeSystemd(t)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := New(nil)
	if n.WatchdogInterval() != 3*time.Second {
		t.Fatalf("WatchdogInterval = %v", n.WatchdogInterval())
	}
	n.Ready("alice: up")
	n.Status("alice: up") // unchanged: not sent
	n.Watchdog()
	n.Status("alice: 1 online")
	n.Stopping()
	want := []string{"READY=1\nSTATUS=alice: up", "WATCHDOG=1", "STATUS=alice: 1 online", "STOPPING=1\nSTATUS=stopping"}
	if got := read(t, c); !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
}

// Without WatchdogSec= no pings are sent; without NOTIFY_SOCKET nothing is.
func TestNoWatchdog(t *testing.T) {
	c := fakeSystemd(t)
	t.Setenv("WATCHDOG_USEC", "")
	n := New(nil)
	n.Watchdog()
	if got := read(t, c); len(got) != 0 {
		t.Errorf("sent %q without a watchdog", got)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	New(nil).Ready("x") // must not fail or block
}
