package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var testLimits = RequestLimits{Senders: 3, Messages: 5, Bytes: 1000}

func historyLen(t *testing.T, s *Store, peer string) int {
	t.Helper()
	ms, err := s.History(ctxT(t), peer, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func requestOf(t *testing.T, s *Store, name string) *Request {
	t.Helper()
	rs, err := s.Requests(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if rs[i].Name == name {
			return &rs[i]
		}
	}
	return nil
}

func TestStrangerMessagesAreARequestNotHistory(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	eve := newKey(t)
	msgs := incoming(3, "hello from eve")
	a, err := s.Deliver(ctx, "eve", eve, msgs, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Request || len(a.Fresh) != 3 || !a.Fresh[0] {
		t.Fatalf("arrival %+v, want a request of 3 fresh messages", a)
	}
	if n := historyLen(t, s, "eve"); n != 0 {
		t.Fatalf("history with a stranger has %d messages, want 0", n)
	}
	if _, err := s.Contact(ctx, "eve"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a stranger became a contact: %v", err)
	}
	// A resend (lost ack) is not stored twice.
	a, err = s.Deliver(ctx, "eve", eve, msgs, testLimits)
	if err != nil || a.Fresh[0] || a.Fresh[2] {
		t.Fatalf("resend: %+v %v, want nothing fresh", a, err)
	}
	r := requestOf(t, s, "eve")
	if r == nil || len(r.Messages) != 3 || !bytes.Equal(r.PublicKey, eve) {
		t.Fatalf("request %+v, want eve's 3 messages under her key", r)
	}
	// No "message" event: attach shows nothing of a request.
	evs, err := s.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == EventMessage {
			t.Fatalf("a request produced a message event: %+v", e)
		}
	}

	// Accepting moves them, in order, into the history and pins the key.
	c, err := s.AcceptRequest(ctx, "eve")
	if err != nil || !bytes.Equal(c.PublicKey, eve) {
		t.Fatalf("accept: %+v %v", c, err)
	}
	hist, err := s.History(ctx, "eve", 10, 0)
	if err != nil || len(hist) != 3 {
		t.Fatalf("history after accept: %d %v, want 3", len(hist), err)
	}
	for i := range hist {
		if hist[i].ID != msgs[i].ID {
			t.Fatalf("history[%d] is %x, want %x (arrival order)", i, hist[i].ID, msgs[i].ID)
		}
	}
	if requestOf(t, s, "eve") != nil {
		t.Fatal("the request is still there after accept")
	}
	// Now a contact: new messages go to the history; resends stay single.
	more := incoming(2, "now a contact")
	a, err = s.Deliver(ctx, "eve", eve, append(more, msgs[0]), testLimits)
	if err != nil || a.Request || !a.Fresh[0] || a.Fresh[2] {
		t.Fatalf("after accept: %+v %v", a, err)
	}
	if n := historyLen(t, s, "eve"); n != 5 {
		t.Fatalf("history has %d, want 5", n)
	}
}

func TestRequestsAreBounded(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	eve := newKey(t)
	// Count: 12 messages, 5 kept, the newest.
	for i := range 12 {
		m := incoming(1, fmt.Sprintf("m%02d", i))
		if _, err := s.Deliver(ctx, "eve", eve, m, testLimits); err != nil {
			t.Fatal(err)
		}
	}
	r := requestOf(t, s, "eve")
	if len(r.Messages) != 5 || r.Dropped != 7 || string(r.Messages[0].Body) != "m07" || string(r.Messages[4].Body) != "m11" {
		t.Fatalf("request holds %d (dropped %d), first %q: want the newest 5", len(r.Messages), r.Dropped, r.Messages[0].Body)
	}
	// Size: 400-byte bodies, 1000 bytes kept → 2.
	big := incoming(4, strings.Repeat("b", 400))
	if _, err := s.Deliver(ctx, "fred", newKey(t), big, testLimits); err != nil {
		t.Fatal(err)
	}
	if r := requestOf(t, s, "fred"); len(r.Messages) != 2 || r.Messages[1].ID != big[3].ID {
		t.Fatalf("fred's request holds %d messages, want the newest 2", len(r.Messages))
	}
	// Senders: 3 kept, the least recently active dropped.
	for _, n := range []string{"gus", "hal"} {
		if _, err := s.Deliver(ctx, n, newKey(t), incoming(1, "hi"), testLimits); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.Requests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	if fmt.Sprint(names) != "[hal gus fred]" {
		t.Fatalf("requests %v, want [hal gus fred] (eve, the oldest, dropped)", names)
	}
}

func TestBlockRefusesTheKeyUnderAnyName(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	eve := newKey(t)
	if _, err := s.Deliver(ctx, "eve", eve, incoming(2, "spam"), testLimits); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Block(ctx, "eve", eve); err != nil {
		t.Fatal(err)
	}
	if requestOf(t, s, "eve") != nil {
		t.Fatal("blocking kept the request")
	}
	for _, name := range []string{"eve", "eve2"} {
		if _, err := s.Deliver(ctx, name, eve, incoming(1, "more spam"), testLimits); !errors.Is(err, ErrBlocked) {
			t.Fatalf("deliver from blocked key as %s: %v, want ErrBlocked", name, err)
		}
	}
	if rs, _ := s.Requests(ctx); len(rs) != 0 {
		t.Fatalf("requests after block: %+v", rs)
	}
	bl, err := s.BlockList(ctx)
	if err != nil || len(bl) != 1 || bl[0].Name != "eve" || !bytes.Equal(bl[0].PublicKey, eve) {
		t.Fatalf("block list %+v %v", bl, err)
	}
	// Blocking a contact removes the pin; unblocking lets requests in again.
	bob := newKey(t)
	if _, _, err := s.PinContact(ctx, "bob", bob); err != nil {
		t.Fatal(err)
	}
	if removed, err := s.Block(ctx, "bob", bob); err != nil || fmt.Sprint(removed) != "[bob]" {
		t.Fatalf("block contact bob: removed %v, %v", removed, err)
	}
	if _, err := s.Contact(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("blocked contact still pinned: %v", err)
	}
	if err := s.Unblock(ctx, eve); err != nil {
		t.Fatal(err)
	}
	if err := s.Unblock(ctx, eve); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second unblock: %v, want ErrNotFound", err)
	}
	if a, err := s.Deliver(ctx, "eve", eve, incoming(1, "again"), testLimits); err != nil || !a.Request {
		t.Fatalf("after unblock: %+v %v, want a request", a, err)
	}
}

func TestPinAcceptsTheRequestUnderTheSameKeyOnly(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	eve, other := newKey(t), newKey(t)
	if _, err := s.Deliver(ctx, "eve", eve, incoming(2, "hi"), testLimits); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PinContact(ctx, "eve", eve); err != nil {
		t.Fatal(err)
	}
	if n := historyLen(t, s, "eve"); n != 2 {
		t.Fatalf("the user's own add left %d of 2 request messages in history", n)
	}
	if _, err := s.Deliver(ctx, "fay", other, incoming(2, "hi"), testLimits); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PinContact(ctx, "fay", newKey(t)); err != nil {
		t.Fatal(err)
	}
	if n := historyLen(t, s, "fay"); n != 0 || requestOf(t, s, "fay") != nil {
		t.Fatalf("a request under another key: %d in history, request kept %v; want neither", n, requestOf(t, s, "fay") != nil)
	}
	// A contact pinned to another key: refused, nothing stored.
	if _, err := s.Deliver(ctx, "eve", other, incoming(1, "impostor"), testLimits); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("impostor: %v, want ErrKeyMismatch", err)
	}
	if err := s.DeclineRequest(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("decline unknown: %v", err)
	}
	if _, err := s.AcceptRequest(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("accept unknown: %v", err)
	}
}

func TestRemovedContactStaysRemoved(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	bob := newKey(t)
	if _, _, err := s.PinContact(ctx, "bob", bob); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(ctx, "bob", bob, incoming(1, "as a contact"), testLimits); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveContact(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	a, err := s.Deliver(ctx, "bob", bob, incoming(1, "after removal"), testLimits)
	if err != nil || !a.Request {
		t.Fatalf("after removal: %+v %v, want a request", a, err)
	}
	if _, err := s.Contact(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a removed contact came back: %v", err)
	}
	if n := historyLen(t, s, "bob"); n != 1 {
		t.Fatalf("history has %d, want the 1 from before the removal", n)
	}
	if err := s.DeclineRequest(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if requestOf(t, s, "bob") != nil {
		t.Fatal("declined request still listed")
	}
}
