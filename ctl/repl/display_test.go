package repl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/ctl/client/clienttest"
)

// hostile is what a peer, a tracker or a router might put into any text
// chatctl prints: a right-to-left override, a bidi isolate, zero-width
// joiners and characters, terminal escape sequences, a carriage return.
const hostile = "e\u202Evil\u2066x\u2069 z\u200Dw\u200B\u200E\u061C\x1b[2J\x1b]0;t\x07\r\x9b1m\u2028end"

// hostileName is the same as a name: it must not look like "bob".
const hostileName = "bo\u200Db\u202E\x1b[31m"

// assertSafe fails if out holds any rune a peer could use to reorder or
// drive the terminal, and if the escaped forms of hostile are missing.
func assertSafe(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r == '\n' {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			t.Errorf("%s: %U reached the terminal in %q", what, r, out)
			return
		}
	}
	if !strings.Contains(out, "<U+202E>") || !strings.Contains(out, "<U+001B>") {
		t.Errorf("%s: hostile characters not shown escaped in %q", what, out)
	}
}

func hostileDaemon(t *testing.T) string {
	sent := time.Now().Add(-time.Minute)
	msg := api.Message{ID: "m1", Peer: hostileName, Direction: api.DirectionIn, Body: hostile + "\nsecond line", SentAt: sent, State: api.StateReceived, Seq: 1}
	contact := api.Contact{Name: hostileName, Fingerprint: "ab" + hostile, Online: true,
		Session: &api.Session{Path: api.PathDirect, RemoteAddr: "1.2.3.4" + hostile}}
	status := api.Status{Name: hostile, Fingerprint: hostile, TrackerState: hostile,
		Relay:  api.Relay{State: api.RelayFailed, Relay: "r", LastError: hostile},
		Online: []api.OnlinePeer{{Name: hostileName, Session: *contact.Session}}}
	online := true
	events := []api.Event{
		{ID: 1, Type: api.EventMessage, At: time.Now(), Peer: "bob", Message: &api.Message{ID: "m2", Peer: "bob", Direction: api.DirectionIn, Body: "live " + hostile, SentAt: sent, State: api.StateReceived}},
		{ID: 2, Type: api.EventKeyMismatch, At: time.Now(), Peer: "bob", Detail: hostile},
		{ID: 3, Type: api.EventPresence, At: time.Now(), Peer: "bob", Online: &online},
	}
	return clienttest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		switch {
		case r.URL.Path == api.PathStatus:
			enc.Encode(status)
		case r.URL.Path == api.PathEvents:
			for _, ev := range events {
				enc.Encode(ev)
			}
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case strings.HasPrefix(r.URL.Path, "/v1/history/"):
			if strings.Contains(r.URL.RawQuery, "before=1") {
				enc.Encode([]api.Message{})
				return
			}
			enc.Encode([]api.Message{msg})
		case r.URL.Path == api.PathContacts && r.Method == http.MethodGet:
			enc.Encode([]api.Contact{contact})
		case strings.HasPrefix(r.URL.Path, api.PathContacts) && r.Method == http.MethodPost:
			enc.Encode(contact)
		default:
			w.WriteHeader(http.StatusBadRequest)
			enc.Encode(api.Error{Code: "bad_request", Message: "no such thing: " + hostile, Hint: hostile})
		}
	}))
}

// Every command that prints what someone else wrote escapes it.
func TestHostileTextIsEscaped(t *testing.T) {
	sock := hostileDaemon(t)
	for _, args := range [][]string{
		{"history", "bob"},
		{"contacts"},
		{"status"},
		{"whoami"},
		{"add", "bob"},
		{"verify", "bob", "ab"},
		{"remove", "bob"}, // the daemon answers with an error naming hostile text
	} {
		var out, errb bytes.Buffer
		c := &client.Client{Socket: sock}
		Run(context.Background(), Config{Client: c, Stdout: &out, Stderr: &errb}, args)
		c.CloseIdleConnections()
		assertSafe(t, strings.Join(args, " "), out.String()+errb.String())
	}
}

// syncBuffer is a bytes.Buffer that attach's two goroutines may write to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// attach prints history, live messages and events (key mismatch,
// presence) escaped too.
func TestAttachEscapesHostileText(t *testing.T) {
	sock := hostileDaemon(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out, errb syncBuffer
	c := &client.Client{Socket: sock}
	defer c.CloseIdleConnections()
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), Config{Client: c, Stdin: r, Stdout: &out, Stderr: &errb}, []string{"attach", "bob"})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "is online") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w.Close()
	if code := <-done; code != ExitOK {
		t.Fatalf("attach exited %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{"second line", "live e", "presented a key", "is online"} {
		if !strings.Contains(got, want) {
			t.Errorf("attach output lacks %q: %q", want, got)
		}
	}
	assertSafe(t, "attach", got)
}
