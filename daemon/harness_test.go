package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// node is one real chatd (the Daemon, its store, peer listener and
// presence loop) running in the test process against a test tracker.
type node struct {
	t      testing.TB
	name   string
	dir    string
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func testConfig(tr *trackertest.Tracker, name, dir string) config.Config {
	cfg := config.Default()
	cfg.Name, cfg.Tracker, cfg.Listen, cfg.DataDir = name, tr.URL, "127.0.0.1:0", dir
	cfg.ControlSocket = dir + "/unused.sock"
	cfg.Presence.CheckInterval.Duration = 200 * time.Millisecond
	cfg.Presence.ObserveInterval.Duration = time.Second
	cfg.Presence.BackoffMax.Duration = time.Second
	cfg.Peer.KeepAlive.Duration = time.Second
	cfg.Peer.HandshakeTimeout.Duration = 5 * time.Second
	cfg.Peer.BackoffMin.Duration = 20 * time.Millisecond
	cfg.Peer.BackoffMax.Duration = 300 * time.Millisecond
	return cfg
}

// startNode runs a daemon with data in dir until the test ends (or stop)
// and waits until its record is on the tracker.
func startNode(t testing.TB, tr *trackertest.Tracker, name, dir string) *node {
	t.Helper()
	return startNodeConfig(t, testConfig(tr, name, dir))
}

func startNodeConfig(t testing.TB, cfg config.Config) *node {
	t.Helper()
	skipShort(t)
	log := zap.NewNop()
	if testing.Verbose() {
		log = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named(cfg.Name)
	}
	d, err := New(Options{Config: cfg, Log: log, NoControl: true})
	if err != nil {
		t.Fatalf("start %s: %v", cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{t: t, name: cfg.Name, dir: cfg.DataDir, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- d.Run(ctx) }()
	t.Cleanup(n.stop)
	waitFor(t, cfg.Name+" registered on the tracker", func() bool { return d.Presence().Registered })
	return n
}

// stop shuts the daemon down as SIGTERM would and waits for Run to return.
func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("%s: Run returned %v", n.name, err)
		}
	case <-time.After(20 * time.Second):
		n.t.Errorf("%s: Run did not return within 20s of shutdown", n.name)
	}
}

func (n *node) send(to, body string) store.Message {
	n.t.Helper()
	m, err := n.d.Send(context.Background(), to, body)
	if err != nil {
		n.t.Fatalf("%s send to %s: %v", n.name, to, err)
	}
	return m
}

// bodies returns the conversation with peer as "in:text"/"out:text" lines.
func (n *node) bodies(peer string) []string {
	n.t.Helper()
	ms, err := n.d.History(context.Background(), peer, 100000, 0)
	if err != nil {
		n.t.Fatalf("%s history with %s: %v", n.name, peer, err)
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Direction) + ":" + string(m.Body)
	}
	return out
}

func (n *node) state(peer string, m store.Message) store.State {
	got, err := n.d.Message(context.Background(), peer, store.Out, m.ID)
	if err != nil {
		n.t.Fatalf("%s message state: %v", n.name, err)
	}
	return got.State
}

// waitFor polls cond until it holds; it fails the test after 20s. It waits
// for an outcome, it does not measure speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// skipShort skips tests that run whole daemons (with a tracker, peer
// sessions and presence) under -short.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs real daemons talking to each other and a tracker")
	}
}

// checkGoroutines fails the test if goroutines started during it are still
// running once it has cleaned up. Register it first so it runs last.
func checkGoroutines(t *testing.T) { leakcheck.Check(t) }

func want(t testing.TB, got []string, wantLines ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Fatalf("conversation:\n got  %q\n want %q", got, wantLines)
	}
}

func seqBodies(dir, prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s:%s %d", dir, prefix, i))
	}
	return out
}

// add makes n pin peer from the tracker, as `chatctl add` does. Without
// it, what peer sends n is a request (consent), not history.
func (n *node) add(peer string) {
	n.t.Helper()
	if _, err := n.d.AddContact(context.Background(), peer); err != nil {
		n.t.Fatalf("%s add %s: %v", n.name, peer, err)
	}
}
