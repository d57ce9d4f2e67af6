package repl

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
)

// fakeDaemon answers status on a Unix socket with the given version header.
func fakeDaemon(t *testing.T, version string) string {
	dir, err := os.MkdirTemp("", "repl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderVersion, version)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"alice","version":"` + version + `"}`))
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return sock
}

func TestVersionNoteAfterUpgrade(t *testing.T) {
	for _, tc := range []struct {
		daemon string
		note   bool
	}{{"1.0.0", false}, {"0.9.0", true}} {
		var out, errb bytes.Buffer
		c := &client.Client{Socket: fakeDaemon(t, tc.daemon)}
		code := Run(context.Background(), Config{Client: c, Stdout: &out, Stderr: &errb, Version: "1.0.0"}, []string{"whoami"})
		if code != ExitOK {
			t.Fatalf("whoami exited %d: %s", code, errb.String())
		}
		if got := strings.Contains(errb.String(), "chatd is version "+tc.daemon+" and chatctl 1.0.0"); got != tc.note {
			t.Errorf("chatd %s, chatctl 1.0.0: note shown=%v, stderr %q", tc.daemon, got, errb.String())
		}
	}
}
