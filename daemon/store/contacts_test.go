package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPinContactTOFU(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	bob := newKey(t)

	c, created, err := s.PinContact(ctx, "bob", bob)
	if err != nil || !created {
		t.Fatalf("first pin: created=%v err=%v, want created", created, err)
	}
	if !bytes.Equal(c.PublicKey, bob) || c.Verified || c.AddedAt.IsZero() || !c.LastSeen.IsZero() {
		t.Fatalf("first pin returned %+v", c)
	}

	c2, created, err := s.PinContact(ctx, "bob", bob)
	if err != nil || created {
		t.Fatalf("same key again: created=%v err=%v, want ok and not created", created, err)
	}
	if !c2.AddedAt.Equal(c.AddedAt) {
		t.Errorf("same key again changed AddedAt: %v → %v", c.AddedAt, c2.AddedAt)
	}

	mallory := newKey(t)
	pinned, _, err := s.PinContact(ctx, "bob", mallory)
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("different key: err=%v, want ErrKeyMismatch", err)
	}
	if !bytes.Equal(pinned.PublicKey, bob) {
		t.Fatalf("mismatch returned contact with key %x, want the pinned one", pinned.PublicKey)
	}
	var km *KeyMismatchError
	if !errors.As(err, &km) || !bytes.Equal(km.Pinned, bob) || !bytes.Equal(km.Offered, mallory) {
		t.Fatalf("mismatch error %#v does not carry both keys", err)
	}

	got, err := s.Contact(ctx, "bob")
	if err != nil || !bytes.Equal(got.PublicKey, bob) {
		t.Fatalf("after mismatch the pinned key changed: %x, %v", got.PublicKey, err)
	}

	// One event for the pin; the refused key left no trace in the store.
	evs, err := s.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != EventContact || evs[0].Peer != "bob" {
		t.Fatalf("events = %+v, want one contact event", evs)
	}
}

func TestPinContactRejectsBadInput(t *testing.T) {
	s, _ := openTest(t)
	if _, _, err := s.PinContact(ctxT(t), "", newKey(t)); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty name: %v, want ErrInvalid", err)
	}
	if _, _, err := s.PinContact(ctxT(t), "bob", []byte("short")); !errors.Is(err, ErrInvalid) {
		t.Errorf("short key: %v, want ErrInvalid", err)
	}
}

func TestVerifyRemoveTouch(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	if _, _, err := s.PinContact(ctx, "carol", newKey(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PinContact(ctx, "bob", newKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVerified(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Contact(ctx, "bob"); !c.Verified {
		t.Fatal("bob not verified after SetVerified(true)")
	}
	if err := s.SetVerified(ctx, "nobody", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetVerified unknown: %v, want ErrNotFound", err)
	}

	seen := time.Unix(1700000000, 5)
	if err := s.TouchContact(ctx, "bob", seen); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchContact(ctx, "bob", seen.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Contact(ctx, "bob"); !c.LastSeen.Equal(seen) {
		t.Errorf("LastSeen = %v, want %v (older touch must not move it back)", c.LastSeen, seen)
	}
	if err := s.TouchContact(ctx, "nobody", seen); !errors.Is(err, ErrNotFound) {
		t.Errorf("TouchContact unknown: %v, want ErrNotFound", err)
	}

	cs, err := s.Contacts(ctx)
	if err != nil || len(cs) != 2 || cs[0].Name != "bob" || cs[1].Name != "carol" {
		t.Fatalf("Contacts = %+v, %v; want bob, carol", cs, err)
	}

	// History survives removal; a new key can then be pinned deliberately.
	if _, err := s.Receive(ctx, "bob", incoming(1, "hello")); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveContact(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Contact(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Contact after remove: %v, want ErrNotFound", err)
	}
	if err := s.RemoveContact(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove: %v, want ErrNotFound", err)
	}
	if h, _ := s.History(ctx, "bob", 10, 0); len(h) != 1 {
		t.Errorf("history after remove has %d messages, want 1", len(h))
	}
	if _, created, err := s.PinContact(ctx, "bob", newKey(t)); err != nil || !created {
		t.Errorf("re-pin after remove: created=%v err=%v", created, err)
	}
}

// EnqueueFirst pins and queues in one synced commit; on a key mismatch it
// stores neither the message nor anything else; a request from the new
// contact under the same key is accepted, as PinContact accepts it.
func TestEnqueueFirst(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	bob, eve, mallory := newKey(t), newKey(t), newKey(t)
	synced := s.Stats().SyncedCommits
	c, created, m, err := s.EnqueueFirst(ctx, "bob", bob, []byte("hello"), time.Now())
	if err != nil || !created || !bytes.Equal(c.PublicKey, bob) {
		t.Fatalf("first message: created=%v key ok=%v err=%v", created, bytes.Equal(c.PublicKey, bob), err)
	}
	if n := s.Stats().SyncedCommits - synced; n != 1 {
		t.Errorf("pin and message took %d synced commits, want 1", n)
	}
	if got, err := s.Message(ctx, "bob", Out, m.ID); err != nil || string(got.Body) != "hello" || got.State != Queued {
		t.Fatalf("queued message: %+v %v", got, err)
	}
	if got, err := s.Contact(ctx, "bob"); err != nil || !bytes.Equal(got.PublicKey, bob) {
		t.Fatalf("pinned contact: %+v %v", got, err)
	}
	// Already pinned to that key: just the message.
	if _, created, _, err := s.EnqueueFirst(ctx, "bob", bob, []byte("again"), time.Now()); err != nil || created {
		t.Fatalf("same key again: created=%v err=%v", created, err)
	}

	// Another key: ErrKeyMismatch with the pinned contact, nothing stored.
	evs, _ := s.Events(ctx, 0, 1000)
	pinned, _, _, err := s.EnqueueFirst(ctx, "bob", mallory, []byte("impostor"), time.Now())
	if !errors.Is(err, ErrKeyMismatch) || !bytes.Equal(pinned.PublicKey, bob) {
		t.Fatalf("other key: err=%v pinned key ok=%v, want ErrKeyMismatch and bob's key", err, bytes.Equal(pinned.PublicKey, bob))
	}
	if n := historyLen(t, s, "bob"); n != 2 {
		t.Fatalf("history has %d messages after the refused one, want 2", n)
	}
	if evs2, _ := s.Events(ctx, 0, 1000); len(evs2) != len(evs) {
		t.Fatalf("the refused message left %d events", len(evs2)-len(evs))
	}

	// eve's request is accepted by our first message to her.
	if _, err := s.Deliver(ctx, "eve", eve, incoming(2, "hi"), testLimits); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.EnqueueFirst(ctx, "eve", eve, []byte("hi eve"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if requestOf(t, s, "eve") != nil {
		t.Fatal("eve's request is left after our first message accepted it")
	}
	hist, err := s.History(ctx, "eve", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range hist {
		got = append(got, string(m.Direction)+":"+string(m.Body))
	}
	// Her request first, then our message that accepted it.
	if want := "in:hi,in:hi,out:hi eve"; strings.Join(got, ",") != want {
		t.Fatalf("eve's history %q, want %q", got, want)
	}
}
