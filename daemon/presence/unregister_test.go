package presence

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

func unregisterPresence(t *testing.T, tr *trackertest.Tracker) *Presence {
	t.Helper()
	p, err := New(Config{
		Name: "alice", Key: newKey(t), Tracker: tr.Client(),
		Listen:        netip.MustParseAddrPort("127.0.0.1:7171"),
		CheckInterval: 10 * time.Millisecond, ObserveInterval: 10 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// After Unregister, lookups say not found, and they keep saying so: Run
// does not register the name again, even when kicked.
func TestUnregisterDeletesAndStopsAnnouncing(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	p := unregisterPresence(t, tr)
	stop := running(t, p)
	c := tr.Client()
	waitFor(t, "alice registered", func() bool { return p.Status().Registered })
	if err := p.Unregister(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Registered || st.LastError != ErrUnregistered.Error() {
		t.Fatalf("status after Unregister: %+v", st)
	}
	for range 5 {
		p.Kick()
		time.Sleep(20 * time.Millisecond)
		if _, _, err := c.Lookup(t.Context(), "alice"); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("lookup after Unregister: %v, want ErrNotFound", err)
		}
	}
	if err := p.Unregister(t.Context()); err != nil {
		t.Fatalf("second Unregister: %v, want nil (already gone)", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// When the tracker cannot be reached, Unregister fails and changes
// nothing: the name stays registered and announced.
func TestUnregisterFailureKeepsAnnouncing(t *testing.T) {
	leakcheck.Check(t)
	tr := trackertest.New(t)
	p := unregisterPresence(t, tr)
	running(t, p)
	waitFor(t, "alice registered", func() bool { return p.Status().Registered })
	tr.Close()
	if err := p.Unregister(t.Context()); err == nil {
		t.Fatal("Unregister with the tracker down succeeded")
	}
	if p.isUnregistered() {
		t.Fatal("a failed Unregister stopped the announcing")
	}
}
