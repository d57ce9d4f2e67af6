// Package testenv holds the project's rule for tests whose dependencies
// may be missing: skip with the reason on a developer's machine, fail under
// CI=true, where a skipped suite would hide breakage.
//
//	url := testenv.PostgresURL(t) // skips or fails without P2PCHAT_TEST_POSTGRES
//	if _, err := exec.LookPath("tmux"); err != nil {
//		testenv.SkipOrFail(t, "tmux not installed")
//	}
package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"testing"
)

// SkipOrFail skips t with reason, or fails it when CI=true.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason + " (CI=true: not skipping)")
		return
	}
	t.Skip(reason)
}

// PostgresURL is the test database URL from P2PCHAT_TEST_POSTGRES
// (scripts/postgres.sh prints one); without it the test skips or fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("P2PCHAT_TEST_POSTGRES")
	if url == "" {
		SkipOrFail(t, "set P2PCHAT_TEST_POSTGRES to a postgres:// URL (as root, scripts/postgres.sh prints one)")
	}
	return url
}

// RestartableAddr returns a free loopback address whose port lies below
// the kernel's ephemeral range (32768 and up), for a test that stops a
// server and starts it again on the same address: a port from ":0" is
// ephemeral, and any outgoing connection on the machine (another test
// package runs at the same time) may take it in between.
func RestartableAddr(t testing.TB) string {
	t.Helper()
	for range 1000 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000)))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}
