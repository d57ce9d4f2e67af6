package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
	"github.com/p2pchat/p2pchat/ctl/client/clienttest"
	"github.com/p2pchat/p2pchat/internal/leakcheck"
)

// pagedHistory serves n messages (seq 1..n) the way chatd does: newest
// first within the page, returned oldest first, at most MaxHistoryPage.
func pagedHistory(t *testing.T, n int) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/history/{peer}", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		limit = min(limit, api.MaxHistoryPage)
		before, _ := strconv.Atoi(r.URL.Query().Get("before"))
		if before == 0 {
			before = n + 1
		}
		var ms []api.Message
		for seq := max(1, before-limit); seq < before; seq++ {
			ms = append(ms, api.Message{Seq: int64(seq), Body: strconv.Itoa(seq)})
		}
		json.NewEncoder(w).Encode(ms)
	})
	return clienttest.Serve(t, mux)
}

// chatctl history --limit N pages through chatd's 1000-message pages.
func TestLastMessagesPagesBack(t *testing.T) {
	leakcheck.Check(t)
	c := &client.Client{Socket: pagedHistory(t, 2500)}
	t.Cleanup(c.CloseIdleConnections)
	for _, tc := range []struct{ n, want int }{{10, 10}, {1000, 1000}, {2200, 2200}, {100000, 2500}} {
		ms, err := c.LastMessages(context.Background(), "bob", tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != tc.want {
			t.Fatalf("LastMessages(%d): %d messages, want %d", tc.n, len(ms), tc.want)
		}
		for i, m := range ms {
			if want := int64(2500 - tc.want + 1 + i); m.Seq != want {
				t.Fatalf("LastMessages(%d)[%d] has seq %d, want %d (newest, oldest first, no gaps)", tc.n, i, m.Seq, want)
			}
		}
	}
}
