package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/daemon/peer/peertest"
	"github.com/p2pchat/p2pchat/tracker/client"
)

// Finding 2's last part: with a small open-file limit, strangers' sessions
// once took every descriptor and the control socket stopped accepting. Now
// chatd sizes its session bounds to the limit: under a flood of strangers
// the control socket keeps answering, descriptors stay free, and a contact
// still gets through.
func TestFileLimitLeavesRoomForControlAndContacts(t *testing.T) {
	prlimit := lookPath(t, "prlimit", "it starts chatd with a small open-file limit (Debian package util-linux)")
	e := newEnv(t)
	tr := e.startTracker()
	const nofile = 256
	bob := e.newChatd("bob", tr.url)
	bob.config = filepath.Join(e.home, "bob.toml")
	// Strangers are limited here only by what the descriptors allow.
	cfg := fastConfig + "stranger_lookups = 1000.0\nstranger_lookup_burst = 1000\nmax_stranger_sessions = 1000\n"
	if err := os.WriteFile(bob.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bob.p = e.start("chatd bob", append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), bin("chatd")}, bob.args()...)...)
	bob.waitRegistered()
	alice := e.startDaemon("alice", tr.url)
	befriend(alice, bob)

	st, _ := bob.status()
	key, err := base64.StdEncoding.DecodeString(st.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	target := peertest.Target{Name: "bob", Key: key, Addr: st.ListenAddr}
	tc := client.New(tr.url, nil)
	const strangers = 250 // more than the limit: without bounds they would take every descriptor
	for i := range strangers {
		peertest.NewSender(t, tc, fmt.Sprintf("stranger%03d", i), target, 1, 100)
	}
	fds := func() int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", bob.p.pid()))
		if err != nil {
			t.Fatalf("count bob's descriptors: %v", err)
		}
		return len(ents)
	}
	// The strangers fill what they may: half of the sessions chatd allows
	// itself below the limit (256 - 128 kept free - 64 handshakes = 64).
	maxFDs, maxSessions, statusCalls := 0, 0, 0
	waitFor(t, "strangers to fill their share of bob's sessions", func() bool {
		st, ok := bob.status()
		if !ok {
			t.Fatal("chatctl status failed during the flood")
		}
		statusCalls++
		maxFDs, maxSessions = max(maxFDs, fds()), max(maxSessions, st.Sessions)
		return st.Sessions >= 32
	})
	alice.must("send", "--wait", "bob", "a friend gets through")
	bob.waitBodies("alice", []string{"in:a friend gets through"})
	for range 20 {
		st, ok := bob.status()
		if !ok {
			t.Fatal("chatctl status failed during the flood")
		}
		statusCalls++
		maxFDs, maxSessions = max(maxFDs, fds()), max(maxSessions, st.Sessions)
	}
	if maxFDs > nofile-64 {
		t.Errorf("bob held %d descriptors of %d; want at least 64 free", maxFDs, nofile)
	}
	if out := bob.must("requests"); !strings.Contains(out, "stranger") {
		t.Errorf("no stranger's request was kept:\n%s", out)
	}
	t.Logf("fd limit %d: %d strangers; at most %d sessions and %d descriptors open; %d status calls answered; the contact's message arrived",
		nofile, strangers, maxSessions, maxFDs, statusCalls)
}
