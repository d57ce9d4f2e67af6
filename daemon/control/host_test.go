package control_test

import (
	"context"
	"net/http"
	"os"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/daemon/control"
	"github.com/p2pchat/p2pchat/daemon/control/controltest"
)

// A request through any other host name (a DNS-rebinding page behind a
// local proxy, say) is refused; every answer, refusals included, is JSON
// and carries chatd's version.
func TestHostHeaderAndVersion(t *testing.T) {
	controltest.CheckGoroutines(t)
	sock := controltest.ServeWith(t, &control.Server{Backend: controltest.NewBackend("alice"),
		Log: zaptest.NewLogger(t), UID: os.Getuid(), Version: "1.2.3"})
	for _, host := range []string{"evil.example", "localhost", "chatd:80"} {
		req, _ := http.NewRequest("GET", "http://chatd"+api.PathStatus, nil)
		req.Host = host
		resp, err := rawClient(sock).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get(api.HeaderVersion) != "1.2.3" {
			t.Errorf("Host %q: %d %q version %q; want a 403 JSON refusal with the version",
				host, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get(api.HeaderVersion))
		}
	}
	c := &client.Client{Socket: sock}
	if c.DaemonVersion() != "" {
		t.Fatal("a version before any request")
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.DaemonVersion() != "1.2.3" {
		t.Fatalf("client saw version %q", c.DaemonVersion())
	}
}
