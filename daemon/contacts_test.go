package daemon

import (
	"context"
	"testing"

	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// Send remembers pinned contacts in memory; removing a contact must make
// the next Send look the name up and pin it again, as before the cache.
func TestSendAfterRemoveContactPinsAgain(t *testing.T) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice := startNode(t, tr, "alice", t.TempDir())
	startNode(t, tr, "bob", t.TempDir())
	ctx := context.Background()

	alice.send("bob", "one")
	if err := alice.d.RemoveContact(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := alice.d.Contacts(ctx); len(cs) != 0 {
		t.Fatalf("contacts after removal = %+v, want none", cs)
	}
	alice.send("bob", "two")
	cs, err := alice.d.Contacts(ctx)
	if err != nil || len(cs) != 1 || cs[0].Name != "bob" {
		t.Fatalf("contacts after sending again = %+v, %v; want bob pinned again", cs, err)
	}
}

// A store read that raced a removal must not be cached.
func TestKnownContactsRemovalWins(t *testing.T) {
	var k knownContacts
	_, gen := k.has("bob") // a Send starts asking the store...
	k.remove("bob")        // ...the contact is removed meanwhile...
	k.add("bob", gen)      // ...and the Send's stale answer comes back.
	if known, _ := k.has("bob"); known {
		t.Fatal("a look-up that raced a removal was cached")
	}
	_, gen = k.has("bob")
	k.add("bob", gen)
	if known, _ := k.has("bob"); !known {
		t.Fatal("a look-up with no removal in between was not cached")
	}
}
