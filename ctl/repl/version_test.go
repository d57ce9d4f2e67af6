package repl

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/ctl/client/clienttest"
)

// fakeDaemon answers status with the given version header.
func fakeDaemon(t *testing.T, version string) string {
	return clienttest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderVersion, version)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"alice","version":"` + version + `"}`))
	}))
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
