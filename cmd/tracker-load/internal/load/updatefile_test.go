package load

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// TestWriteUpdates sends a written file of updates the way
// scripts/wrk-update.lua does, in order: every line is accepted once,
// and sent again every one is refused as stale (a replay).
func TestWriteUpdates(t *testing.T) {
	tr := trackertest.New(t).URL
	cfg := testConfig(tr)
	assertOK(t, mustRun(t, "preload", func() (Result, error) { return Preload(t.Context(), cfg, nil) }), 200)
	var file bytes.Buffer
	assertOK(t, mustRun(t, "write", func() (Result, error) { return WriteUpdates(t.Context(), cfg, &file) }), 300)

	send := func() (ok, stale int) {
		sc := bufio.NewScanner(bytes.NewReader(file.Bytes()))
		for sc.Scan() {
			path, body, found := strings.Cut(sc.Text(), " ")
			if !found || !strings.HasPrefix(path, "/v1/users/"+DefaultConfig().Prefix) {
				t.Fatalf("malformed line %q", sc.Text())
			}
			req, err := http.NewRequestWithContext(t.Context(), "PUT", tr+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
				stale++
			default:
				t.Fatalf("PUT %s: %s", path, resp.Status)
			}
		}
		return ok, stale
	}
	if ok, stale := send(); ok != 300 || stale != 0 {
		t.Fatalf("first send: %d ok, %d stale; want 300 ok", ok, stale)
	}
	if ok, stale := send(); ok != 0 || stale != 300 {
		t.Fatalf("replayed: %d ok, %d stale; want 300 stale", ok, stale)
	}
}
