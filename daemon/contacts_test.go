package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/identity"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/record"
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

// A first send to a new contact asks the tracker about the name once: the
// dialler, started while the pin and the message are committed, uses the
// record the send fetched instead of looking it up again.
func TestFirstSendLooksUpOnce(t *testing.T) {
	tr, lt, alice := aliceBehindLyingTracker(t)
	startNode(t, tr, "bob", t.TempDir())

	m := alice.send("bob", "hello")
	waitFor(t, "hello delivered", func() bool { return alice.state("bob", m) == store.Delivered })
	if n := lt.lookups(""); n != 1 {
		t.Fatalf("alice looked bob up %d times for her first message, want 1", n)
	}
	if _, ok := alice.d.first.record("bob"); ok {
		t.Fatal("the first record was left for a later dial")
	}
}

// pinInProgress starts alice and bob and has alice fetch bob's record and
// note that his pin is in progress, as a first Send does before it
// commits; done reports the pin's outcome.
func pinInProgress(t *testing.T) (alice, bob *node, rec record.Signed, done func(store.Contact, error)) {
	checkGoroutines(t)
	tr := trackertest.New(t)
	alice = startNode(t, tr, "alice", t.TempDir())
	bob = startNode(t, tr, "bob", t.TempDir())
	rec, err := alice.d.lookup(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	return alice, bob, rec, alice.d.first.pinning("bob", rec)
}

// A peer we dial while its pin is being committed is authorised as the
// contact it is about to be, not as a stranger: Authorize waits for the pin.
func TestAuthorizeWaitsForPinInProgress(t *testing.T) {
	alice, bob, rec, done := pinInProgress(t)
	ctx := context.Background()
	type result struct {
		standing peer.Standing
		err      error
	}
	got := make(chan result, 1)
	go func() {
		s, err := alice.d.Authorize(ctx, "bob", bob.d.id.Public)
		got <- result{s, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("Authorize returned %v, %v before the pin was committed", r.standing, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	c, err := alice.d.pin(ctx, "bob", rec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	done(c, nil)
	if r := <-got; r.err != nil || r.standing != peer.Contact {
		t.Fatalf("Authorize = %v, %v; want a contact", r.standing, r.err)
	}
	if _, ok := alice.d.first.record("bob"); !ok {
		t.Fatal("the fresh record was not kept for the dialler")
	}
	if _, ok := alice.d.first.record("bob"); ok {
		t.Fatal("the fresh record was handed out twice")
	}
}

// A pin in progress that fails because another key got pinned meanwhile
// does not let the peer in: Authorize reads the pin that won and refuses
// the key it does not match.
func TestAuthorizeAfterFailedPinRefusesMismatch(t *testing.T) {
	alice, bob, rec, done := pinInProgress(t)
	ctx := context.Background()
	got := make(chan error, 1)
	go func() {
		_, err := alice.d.Authorize(ctx, "bob", bob.d.id.Public)
		got <- err
	}()
	other, _ := identity.Generate(nil)
	if _, _, err := alice.d.store.PinContact(ctx, "bob", other.Public); err != nil {
		t.Fatal(err)
	}
	c, err := alice.d.pin(ctx, "bob", rec.PublicKey)
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("pin over another key: %v, want a key mismatch", err)
	}
	done(c, err)
	if err := <-got; !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("Authorize after the failed pin = %v, want a key mismatch", err)
	}
}
