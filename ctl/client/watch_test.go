package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

// daemon is a control server the test can stop and start again on the
// same socket, the way systemd restarts chatd.
type daemon struct {
	t      *testing.T
	b      *controltest.Backend
	sock   string
	cancel context.CancelFunc
	done   chan error
}

func (d *daemon) start() {
	ln, err := control.Listen(d.sock)
	if err != nil {
		d.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	srv := &control.Server{Backend: d.b, Log: zaptest.NewLogger(d.t), UID: os.Getuid()}
	go func() { d.done <- srv.Serve(ctx, ln) }()
}

func (d *daemon) stop() {
	d.cancel()
	if err := <-d.done; err != nil {
		d.t.Errorf("Serve: %v", err)
	}
}

func TestWatcherResumesAcrossRestartWithoutGapsOrRepeats(t *testing.T) {
	controltest.CheckGoroutines(t)
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := &daemon{t: t, b: controltest.NewBackend("alice"), sock: filepath.Join(dir, "control.sock")}
	d.start()
	c := &client.Client{Socket: d.sock}
	defer c.CloseIdleConnections()
	for i := range 3 {
		d.b.Receive("bob", fmt.Sprint(i))
	}
	w, err := c.Watch(context.Background(), 1) // skip the first on purpose
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var bodies []string
	next := func() {
		t.Helper()
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, ev.Message.Body)
	}
	next()
	next()
	d.stop()
	for i := 3; i < 6; i++ { // happen while no daemon listens
		d.b.Receive("bob", fmt.Sprint(i))
	}
	d.start()
	defer d.stop()
	for range 3 {
		next()
	}
	d.b.Receive("bob", "6")
	next()
	if got, want := strings.Join(bodies, ","), "1,2,3,4,5,6"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if w.Cursor() != 7 {
		t.Errorf("cursor %d, want 7", w.Cursor())
	}
}

func TestWatcherCloseUnblocksNext(t *testing.T) {
	_, c := setup(t)
	w, err := c.Watch(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := w.Next()
		errc <- err
	}()
	w.Close()
	w.Close() // twice is fine
	if err := <-errc; !errors.Is(err, client.ErrWatcherClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// cannedDial answers the first request with body as an event stream and
// every later one with a 403, so the watcher ends once body is used up.
func cannedDial(body []byte) func(context.Context) (net.Conn, error) {
	var calls atomic.Int32
	return func(ctx context.Context) (net.Conn, error) {
		first := calls.Add(1) == 1
		srv, cli := net.Pipe()
		go func() {
			defer srv.Close()
			if _, err := http.ReadRequest(bufio.NewReader(srv)); err != nil {
				return
			}
			if first {
				io.WriteString(srv, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n")
				srv.Write(body)
				return
			}
			b := `{"error":"go away","code":"forbidden"}`
			fmt.Fprintf(srv, "HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(b), b)
		}()
		return cli, nil
	}
}

func FuzzWatcher(f *testing.F) {
	f.Add([]byte(`{"id":1,"type":"message","message":{"body":"x"}}` + "\n" + `{"type":"heartbeat"}` + "\n\n" + `{"id":1,"type":"message"}` + "\n"))
	f.Add([]byte(`{"id":5,"type":"presence","online":true}` + "\n" + `{"id":3,"type":"presence"}` + "\n" + `{"id":9,"type":"x"}`))
	f.Add([]byte("not json\n"))
	f.Add([]byte(strings.Repeat("a", 1000)))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := &client.Client{Dial: cannedDial(body)}
		defer c.CloseIdleConnections()
		w, err := c.Watch(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		last := int64(0)
		for range 10000 {
			ev, err := w.Next()
			if err != nil {
				return
			}
			if ev.ID <= last {
				t.Fatalf("event %d after %d: a repeat or out of order", ev.ID, last)
			}
			last = ev.ID
		}
		t.Fatal("watcher never ended")
	})
}
