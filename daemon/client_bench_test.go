package daemon

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// startNodeWithSocket is startNode with the control socket served, for
// benchmarks that measure what a chatctl client sees.
func startNodeWithSocket(tb testing.TB, tr *trackertest.Tracker, name string) *node {
	tb.Helper()
	skipShort(tb)
	sockDir, err := os.MkdirTemp("", "ctl") // socket paths must stay short
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg := testConfig(tr, name, tb.TempDir())
	cfg.ControlSocket = filepath.Join(sockDir, "chatd", "control.sock")
	d, err := New(Options{Config: cfg, Log: zap.NewNop(), Version: "bench"})
	if err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{t: tb, name: name, dir: cfg.DataDir, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- d.Run(ctx) }()
	tb.Cleanup(n.stop)
	waitFor(tb, name+" registered", func() bool { return d.Presence().Registered })
	return n
}

// benchWatch is a client attached to a daemon's event stream, as chatctl
// attach is. A goroutine (stopped by the benchmark's cleanup) reads the
// stream and notes when each message event arrived.
type benchWatch struct {
	arrived chan clientEvent
	early   map[string]time.Time // message events read before they were waited for
}

type clientEvent struct {
	id string // the message ID, hex
	at time.Time
}

func attachClient(b *testing.B, n *node) *benchWatch {
	b.Helper()
	c := &client.Client{Socket: n.d.cfg.ControlSocket}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := c.Status(ctx)
	if err != nil {
		b.Fatalf("status of %s: %v", n.name, err)
	}
	w, err := c.Watch(ctx, st.EventCursor)
	if err != nil {
		b.Fatalf("watch %s: %v", n.name, err)
	}
	bw := &benchWatch{arrived: make(chan clientEvent, 1024), early: map[string]time.Time{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			if ev.Type == "message" && ev.Message != nil {
				select {
				case bw.arrived <- clientEvent{id: ev.Message.ID, at: time.Now()}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	b.Cleanup(func() {
		cancel()
		w.Close()
		<-done
		c.CloseIdleConnections()
	})
	return bw
}

// waitMessage returns when the client read the message event for id.
func (w *benchWatch) waitMessage(b *testing.B, id [16]byte) time.Time {
	want := hex.EncodeToString(id[:])
	if at, ok := w.early[want]; ok {
		delete(w.early, want)
		return at
	}
	timeout := time.After(benchWait)
	for {
		select {
		case ev := <-w.arrived:
			if ev.id == want {
				return ev.at
			}
			w.early[ev.id] = ev.at
		case <-timeout:
			b.Fatalf("the attached client did not see message %s within %v", want, benchWait)
		}
	}
}
