package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// recorder is a Notifier that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	ready    []string
	status   []string
	pings    int
	stopping bool
}

func (r *recorder) Ready(s string)  { r.mu.Lock(); r.ready = append(r.ready, s); r.mu.Unlock() }
func (r *recorder) Status(s string) { r.mu.Lock(); r.status = append(r.status, s); r.mu.Unlock() }
func (r *recorder) Watchdog()       { r.mu.Lock(); r.pings++; r.mu.Unlock() }
func (r *recorder) Stopping()       { r.mu.Lock(); r.stopping = true; r.mu.Unlock() }

func (r *recorder) snapshot() (ready []string, status []string, pings int, stopping bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ready...), append([]string(nil), r.status...), r.pings, r.stopping
}

// The main loop says READY once, pings the watchdog only while it runs
// (a stall stops the pings), keeps the status line current, and says
// STOPPING when shutdown begins.
func TestNotifierFromMainLoop(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	dir := t.TempDir()
	stall := filepath.Join(dir, "stall")
	rec := &recorder{}
	d, err := New(Options{Config: testConfig(tr, "alice", dir), Log: zap.NewNop(), NoControl: true,
		Notifier: rec, HealthInterval: 20 * time.Millisecond, StallFile: stall})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitFor(t, "READY", func() bool { r, _, _, _ := rec.snapshot(); return len(r) == 1 })
	waitFor(t, "status: registered", func() bool {
		_, s, _, _ := rec.snapshot()
		return len(s) > 0 && s[len(s)-1] == "alice: tracker registered; 0 of 0 contacts online"
	})
	waitFor(t, "watchdog pings", func() bool { _, _, p, _ := rec.snapshot(); return p >= 3 })

	if err := os.WriteFile(stall, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let a check in progress finish
	_, _, before, _ := rec.snapshot()
	time.Sleep(300 * time.Millisecond)
	if _, _, after, _ := rec.snapshot(); after != before {
		t.Errorf("watchdog pinged %d times while the main loop was stalled", after-before)
	}
	os.Remove(stall)
	waitFor(t, "pings after the stall", func() bool { _, _, p, _ := rec.snapshot(); return p > before })

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	done <- nil
	ready, _, _, stopping := rec.snapshot()
	if len(ready) != 1 || !strings.HasPrefix(ready[0], "alice: tracker ") || !stopping {
		t.Errorf("ready %q, stopping %v", ready, stopping)
	}
}

func TestStatusLine(t *testing.T) {
	st := api.Status{Name: "bob", TrackerState: "registered", PublicAddrs: []string{"203.0.113.7:7171"}}
	if got, want := StatusLine(st, 2, 5), "bob: tracker registered; 2 of 5 contacts online; mapped 203.0.113.7:7171"; got != want {
		t.Errorf("StatusLine = %q, want %q", got, want)
	}
}
