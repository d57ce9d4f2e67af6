package client_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

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
		leakcheck.Check(t)
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
