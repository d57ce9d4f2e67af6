package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/peer/peertest"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Finding 2 of the security review, as a flood: strangers sending 64 KiB
// messages as fast as they can. Nothing reaches the history, the requests
// stay within their bounds, strangers hold at most max_stranger_sessions,
// and the user's own requests (status, a contact's message) still work.
func TestStrangerFloodIsBounded(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	cfg := testConfig(tr, "bob", t.TempDir())
	cfg.Limits.RequestSenders, cfg.Limits.RequestMessages, cfg.Limits.RequestBytes = 8, 4, 128<<10
	cfg.Limits.StrangerRate, cfg.Limits.StrangerBurst = 1000, 256 // the bound on storage is what is tested here
	cfg.Limits.StrangerDailyBytes = 0
	cfg.Peer.StrangerLookups, cfg.Peer.StrangerLookupBurst = 1000, 1000
	cfg.Peer.MaxStrangerSessions = 6
	bob := startNodeConfig(t, cfg)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob.add("alice")
	db := filepath.Join(bob.dir, "chatd.db")
	before := fileSize(t, db)

	const strangers, perStranger, size = 16, 24, 64 << 10
	start := time.Now()
	target := peertest.Target{Name: "bob", Key: bob.d.id.Public, Addr: bob.d.PeerAddr().String()}
	var floods []*peertest.Sender
	for i := range strangers {
		floods = append(floods, peertest.NewSender(t, tr.Client(), fmt.Sprintf("stranger%02d", i), target, perStranger, size))
	}
	// While the flood runs: bob's sessions with strangers stay bounded,
	// and a contact's message still arrives.
	maxStrangers := 0
	sample := func() {
		n := 0
		for _, s := range bob.d.peers.Sessions() {
			if strings.HasPrefix(s.Peer, "stranger") {
				n++
			}
		}
		maxStrangers = max(maxStrangers, n)
	}
	alice.send("bob", "a friend's message during the flood")
	waitFor(t, "alice's message during the flood", func() bool { sample(); return len(bob.bodies("alice")) == 1 })
	// Every stranger had its messages taken (stored as requests, or
	// dropped as the oldest): acknowledged, so its chatd would stop.
	waitFor(t, "every stranger's outbox acknowledged", func() bool {
		sample()
		for _, f := range floods {
			if f.Left() > 0 {
				return false
			}
		}
		return true
	})
	took := time.Since(start)
	// A stranger's idle session closed to make room is listed until its
	// goroutines end: one more than the bound may show for that moment.
	if maxStrangers > cfg.Peer.MaxStrangerSessions+1 {
		t.Errorf("strangers held %d sessions at once, want at most %d (+1 closing)", maxStrangers, cfg.Peer.MaxStrangerSessions)
	}
	rs, err := bob.d.Requests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) > cfg.Limits.RequestSenders {
		t.Errorf("%d requests kept, want at most %d", len(rs), cfg.Limits.RequestSenders)
	}
	for _, r := range rs {
		var bytes int
		for _, m := range r.Messages {
			bytes += len(m.Body)
		}
		if len(r.Messages) > cfg.Limits.RequestMessages || bytes > cfg.Limits.RequestBytes {
			t.Errorf("%s's request holds %d messages, %d bytes; over the bounds", r.Name, len(r.Messages), bytes)
		}
	}
	for i := range strangers {
		if got := bob.bodies(fmt.Sprintf("stranger%02d", i)); len(got) != 0 {
			t.Fatalf("stranger%02d's messages reached the history", i)
		}
	}
	cs, _ := bob.d.Contacts(context.Background())
	if len(cs) != 1 {
		t.Errorf("bob has %d contacts after the flood, want alice alone", len(cs))
	}
	if _, err := (ctlBackend{bob.d}).Status(context.Background()); err != nil {
		t.Errorf("status after the flood: %v", err)
	}
	sent := int64(strangers * perStranger * size)
	grew := fileSize(t, db) - before
	// The requests hold at most 8 × 128 KiB = 1 MiB; the database file
	// around them keeps the pages freed by dropped messages for reuse.
	// (The WAL beside it holds what was written since the last checkpoint,
	// a second at most, and is cut back to 8 MiB after: its size follows
	// the write rate, which the rate limit bounds and this test lifts.)
	if grew > 4<<20 {
		t.Errorf("bob's database grew by %d MiB for %d MiB sent by strangers", grew>>20, sent>>20)
	}
	var walSize int64
	if fi, err := os.Stat(db + "-wal"); err == nil {
		walSize = fi.Size()
	}
	t.Logf("stranger flood: %d strangers sent %d MiB in %v (%.0f msg/s); bob kept %d requests, database +%.1f MiB (WAL %.1f MiB); at most %d stranger sessions at once; the friend's message arrived",
		strangers, sent>>20, took.Round(time.Millisecond), float64(strangers*perStranger)/took.Seconds(), len(rs), float64(grew)/(1<<20), float64(walSize)/(1<<20), maxStrangers)
}
