package daemon

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"

	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// storeFault makes a daemon's store fail to save received messages, from
// outside the daemon: a trigger on its messages table calls a Go function
// that counts the attempt and, while the fault is on, fails it. The count
// is the positive signal that the daemon tried to store and was refused.
type storeFault struct {
	on       atomic.Bool
	attempts atomic.Int64
}

var (
	faultsMu sync.Mutex
	faults   = map[string]*storeFault{}
	// faultFunc is registered once per process, for the connections the
	// driver opens afterwards (so before the daemon under test starts).
	faultFunc = sync.OnceValue(func() error {
		return sqlite.RegisterScalarFunction("p2pchat_test_fault", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			id, _ := args[0].(string)
			faultsMu.Lock()
			f := faults[id]
			faultsMu.Unlock()
			if f == nil {
				return int64(0), nil
			}
			f.attempts.Add(1)
			if f.on.Load() {
				return nil, errors.New("injected store fault")
			}
			return int64(0), nil
		})
	})
)

// registerFaultFunc must run before the daemon whose store is to fail opens
// it.
func registerFaultFunc(t *testing.T) {
	t.Helper()
	if err := faultFunc(); err != nil {
		t.Fatalf("register the fault function: %v", err)
	}
}

// injectStoreFault installs the trigger in the store at dir (off until
// switched on) and removes it when the test ends.
func injectStoreFault(t *testing.T, dir string) *storeFault {
	t.Helper()
	f := &storeFault{}
	id := t.Name()
	faultsMu.Lock()
	faults[id] = f
	faultsMu.Unlock()
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.Join(dir, "chatd.db"), RawQuery: "_pragma=busy_timeout(10000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		faultsMu.Lock()
		delete(faults, id)
		faultsMu.Unlock()
	})
	t.Cleanup(func() { db.Close() })
	trigger := fmt.Sprintf(`CREATE TRIGGER test_fault BEFORE INSERT ON messages WHEN NEW.dir = 'in'
		BEGIN SELECT p2pchat_test_fault(%q); END`, id)
	if _, err := db.Exec(trigger); err != nil {
		t.Fatalf("install the fault trigger: %v", err)
	}
	return f
}

// A receiver whose store cannot save a message must not acknowledge it:
// the sender keeps it as undelivered, and it arrives, once, when the store
// works again. (The peer layer's own test uses a fake handler; this one
// fails the daemon's real store under its Deliver.)
func TestStoreFailureIsNotAcknowledged(t *testing.T) {
	checkGoroutines(t)
	registerFaultFunc(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	bob := startNode(t, tr, "bob", t.TempDir())
	bob.add("alice")
	alice.send("bob", "before")
	waitFor(t, "first contact", func() bool { return len(bob.bodies("alice")) == 1 })

	fault := injectStoreFault(t, bob.dir)
	fault.on.Store(true)
	m := alice.send("bob", "during")
	// Three refused attempts to store it: the first delivery and two
	// resends, each a chance for a wrong ack to reach alice.
	waitFor(t, "bob's store refuses three times, or alice sees delivered", func() bool {
		return fault.attempts.Load() >= 3 || alice.state("bob", m) == store.Delivered
	})
	if st := alice.state("bob", m); st == store.Delivered {
		t.Fatalf("alice sees %s although bob's store refused the message", st)
	}
	want(t, bob.bodies("alice"), "in:before")

	fault.on.Store(false)
	waitFor(t, "delivered once the store works", func() bool { return alice.state("bob", m) == store.Delivered })
	want(t, bob.bodies("alice"), "in:before", "in:during")
	evs, err := bob.d.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "message" && e.Peer == "alice" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("bob has %d message events from alice, want 2", n)
	}
}
