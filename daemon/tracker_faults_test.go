package daemon

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// lyingTracker sits between a daemon and the real tracker. It passes
// everything through, remembers the honest lookup answers for one name, and
// on demand serves a forged signature or replays an older honest answer.
// It counts the lookups of that name it answered in each mode: a daemon
// looks a contact up before every dial, so the count is how often the
// daemon had the chance to act on an answer.
type lyingTracker struct {
	*httptest.Server
	name string

	mu      sync.Mutex
	mode    string            // "", "forge", "replay"
	answers map[uint64][]byte // honest lookup bodies by seq
	replay  uint64            // the seq to replay
	served  map[string]int    // lookups of name answered, by mode
}

// aliceBehindLyingTracker starts a tracker and alice, who reaches it
// through a lyingTracker in front of bob's records.
func aliceBehindLyingTracker(t *testing.T) (*trackertest.Tracker, *lyingTracker, *node) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	lt := newLyingTracker(t, tr.URL, "bob")
	aliceCfg := testConfig(tr, "alice", t.TempDir())
	aliceCfg.Tracker = lt.URL
	return tr, lt, startNodeConfig(t, aliceCfg)
}

func newLyingTracker(t *testing.T, upstream, name string) *lyingTracker {
	u, _ := url.Parse(upstream)
	lt := &lyingTracker{name: name, answers: map[uint64][]byte{}, served: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = lt.modify
	lt.Server = httptest.NewServer(rp)
	t.Cleanup(lt.Close)
	return lt
}

func (lt *lyingTracker) set(mode string, replaySeq uint64) {
	lt.mu.Lock()
	lt.mode, lt.replay = mode, replaySeq
	lt.mu.Unlock()
}

// lookups is how many lookups of the name were answered in mode.
func (lt *lyingTracker) lookups(mode string) int {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return lt.served[mode]
}

func (lt *lyingTracker) modify(resp *http.Response) error {
	if resp.Request.Method != http.MethodGet || resp.Request.URL.Path != "/v1/users/"+lt.name || resp.StatusCode != 200 {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	rec := doc["record"].(map[string]any)
	seq := uint64(rec["seq"].(float64))
	lt.mu.Lock()
	lt.answers[seq] = body
	lt.served[lt.mode]++
	switch lt.mode {
	case "forge":
		sig, _ := base64.StdEncoding.DecodeString(rec["signature"].(string))
		sig[0] ^= 1
		rec["signature"] = base64.StdEncoding.EncodeToString(sig)
		body, _ = json.Marshal(doc)
	case "replay":
		body = lt.answers[lt.replay]
	}
	lt.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// A tracker that forges or replays records cannot make chatd deliver to the
// wrong place or lose anything: the message waits, and goes out once the
// tracker tells the truth again.
func TestTrackerThatLies(t *testing.T) {
	tr, lt, alice := aliceBehindLyingTracker(t)
	bobDir := t.TempDir()
	bob := startNode(t, tr, "bob", bobDir)
	bob.add("alice")

	deliveredAfterLie := func(mode string, body string) {
		t.Helper()
		lt.set(mode, 0)
		before := lt.lookups(mode)
		m := alice.send("bob", body)
		// Each lie alice is told is a dial she could make with it: after
		// three, she has had her chance to believe one.
		waitFor(t, "alice told the lie three times, or delivered", func() bool {
			return lt.lookups(mode) >= before+3 || alice.state("bob", m) == store.Delivered
		})
		if st := alice.state("bob", m); st == store.Delivered {
			t.Fatalf("%s: delivered while the tracker pointed elsewhere", mode)
		}
		lt.set("", 0)
		waitFor(t, body+" delivered once the tracker is honest", func() bool { return alice.state("bob", m) == store.Delivered })
	}

	alice.send("bob", "one")
	waitFor(t, "first contact", func() bool { return len(bob.bodies("alice")) == 1 })
	seqAtFirst := latestSeq(lt)

	bob.stop()
	bob = startNode(t, tr, "bob", bobDir) // a new port and a new record
	deliveredAfterLie("forge", "two")

	// Bob restarts on the same port. Alice has seen a newer record than
	// seqAtFirst; the tracker now replays that old one, with bob's first,
	// dead address. Alice must not believe it: she keeps the newer
	// address she knows, and the message goes through despite the lie.
	cfg := testConfig(tr, "bob", bobDir)
	cfg.Listen = bob.d.PeerAddr().String()
	bob.stop()
	lt.set("replay", seqAtFirst)
	bob = startNodeConfig(t, cfg)
	m := alice.send("bob", "three")
	waitFor(t, "three delivered despite the replayed record", func() bool { return alice.state("bob", m) == store.Delivered })
	want(t, bob.bodies("alice"), "in:one", "in:two", "in:three")
}

func latestSeq(lt *lyingTracker) uint64 {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var max uint64
	for s := range lt.answers {
		if s > max {
			max = s
		}
	}
	return max
}
