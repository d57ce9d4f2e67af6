package daemon

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// chatctl unregister against a real daemon: the name leaves the tracker,
// stays gone (chatd announces it no more), and a contact looking it up is
// told there is no such user.
func TestUnregisterDeletesName(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice, ca := startNodeWithControl(t, tr, "alice")
	_, cb := startNodeWithControl(t, tr, "bob")
	ctx := t.Context()
	res, err := ca.Unregister(ctx)
	if err != nil || res.Name != "alice" || res.Tracker != tr.URL {
		t.Fatalf("Unregister = %+v, %v", res, err)
	}
	alice.d.presence.Kick() // a re-announce now would register the name again
	time.Sleep(100 * time.Millisecond)
	if _, _, err := tr.Client().Lookup(ctx, "alice"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("tracker lookup after unregister: %v, want not found", err)
	}
	if _, err := cb.AddContact(ctx, "alice"); !errors.Is(err, api.ErrUnknownUser) {
		t.Fatalf("bob adds alice after unregister: %v, want unknown user", err)
	}
	st, err := ca.Status(ctx)
	if err != nil || !strings.Contains(st.TrackerState, "unregistered") {
		t.Fatalf("status after unregister: %q, %v", st.TrackerState, err)
	}
}
