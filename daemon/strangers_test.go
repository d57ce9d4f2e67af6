package daemon

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// countingTransport counts the lookups a daemon makes at the tracker.
type countingTransport struct {
	next    http.RoundTripper
	lookups atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/users/") {
		c.lookups.Add(1)
	}
	return c.next.RoundTrip(r)
}

// Finding 3 of the security review: each connection claiming an unknown
// name made chatd look it up from its own address, so a stranger could get
// it rate-limited at the tracker. Now strangers' lookups are bounded and
// unknown names are cached; the user's own lookups are not limited.
func TestStrangersCannotSpendTrackerLookups(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	startNode(t, tr, "bob", t.TempDir())
	ct := &countingTransport{next: http.DefaultTransport}
	if alice.d.tracker.HTTP.Transport != nil {
		ct.next = alice.d.tracker.HTTP.Transport
	}
	alice.d.tracker.HTTP.Transport = ct
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public().(ed25519.PublicKey)

	var refusedFast int
	for i := range 200 {
		_, err := alice.d.Authorize(ctx, fmt.Sprintf("ghost%d", i), pub)
		if err == nil {
			t.Fatalf("ghost%d authorized", i)
		}
		if errors.Is(err, ErrTooManyStrangers) {
			refusedFast++
		}
	}
	// The burst (10) plus what the rate (1/s) refills while the loop runs.
	if n := ct.lookups.Load(); n > 15 || refusedFast < 150 {
		t.Fatalf("200 made-up names caused %d tracker lookups (%d refused without one); want the burst and little more", n, refusedFast)
	}
	before := ct.lookups.Load()
	for range 20 {
		alice.d.Authorize(ctx, "ghost0", pub) // known unknown: cached
	}
	if n := ct.lookups.Load() - before; n != 0 {
		t.Fatalf("a cached unknown name caused %d lookups", n)
	}
	if _, err := alice.d.AddContact(ctx, "bob"); err != nil {
		t.Fatalf("the user's own lookup was refused during the flood: %v", err)
	}
	t.Logf("lookup flood: 200 handshakes claiming made-up names → %d tracker lookups (%d refused without one); 20 more for a cached name → 0; the user's own add works", before, refusedFast)
}

// Finding 4: the event log was never pruned. A flood of events (here,
// messages, whose events are the largest) leaves at most keep_events.
func TestEventLogIsBounded(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	cfg := testConfig(tr, "bob", t.TempDir())
	cfg.KeepEvents, cfg.PruneInterval.Duration = 5, 20*time.Millisecond
	bob := startNodeConfig(t, cfg)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob.add("alice")
	for i := range 30 {
		alice.send("bob", fmt.Sprintf("m%d", i))
	}
	waitFor(t, "bob to receive all 30", func() bool { return len(bob.bodies("alice")) == 30 })
	waitFor(t, "bob's event log pruned to 5", func() bool {
		evs, err := bob.d.Events(context.Background(), 0, 1000)
		return err == nil && len(evs) <= 5
	})
	if got := bob.bodies("alice"); len(got) != 30 {
		t.Fatalf("pruning the event log touched the messages: %d left", len(got))
	}
}
