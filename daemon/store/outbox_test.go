package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
)

func TestOutboxStateMachine(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	sentAt := time.Unix(1700000000, 123)

	m, err := s.Enqueue(ctx, "bob", []byte("hi bob"), sentAt)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != Queued || m.Direction != Out || m.Seq == 0 || m.ID == ([16]byte{}) || !m.SentAt.Equal(sentAt) {
		t.Fatalf("Enqueue returned %+v", m)
	}
	state := func() State {
		t.Helper()
		got, err := s.Message(ctx, "bob", Out, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.State
	}

	if err := s.MarkSent(ctx, "bob", [][16]byte{m.ID}); err != nil || state() != Sent {
		t.Fatalf("after MarkSent: %v, %v", state(), err)
	}
	n, err := s.MarkDelivered(ctx, "bob", [][16]byte{m.ID})
	if err != nil || n != 1 || state() != Delivered {
		t.Fatalf("after MarkDelivered: n=%d state=%v err=%v", n, state(), err)
	}
	// Delivered never goes back, and a repeated ack is not counted or evented.
	if err := s.MarkSent(ctx, "bob", [][16]byte{m.ID}); err != nil || state() != Delivered {
		t.Fatalf("MarkSent after delivery: state=%v err=%v", state(), err)
	}
	if n, err := s.MarkDelivered(ctx, "bob", [][16]byte{m.ID, newMessageID()}); err != nil || n != 0 {
		t.Fatalf("repeated/unknown ack: n=%d err=%v, want 0", n, err)
	}
	// An ack from another peer for the same ID does not touch bob's message.
	if n, _ := s.MarkDelivered(ctx, "mallory", [][16]byte{m.ID}); n != 0 {
		t.Fatalf("ack from another peer delivered %d messages", n)
	}

	evs, err := s.Events(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != EventDelivered || evs[0].MessageID != m.ID {
		t.Fatalf("events = %+v, want exactly one delivered event", evs)
	}
	if evs[0].Message == nil || !bytes.Equal(evs[0].Message.Body, []byte("hi bob")) || evs[0].Message.Direction != Out {
		t.Fatalf("delivered event carries message %+v", evs[0].Message)
	}
	if p, _ := s.Pending(ctx, "bob", 0, 10); len(p) != 0 {
		t.Fatalf("delivered message still pending: %+v", p)
	}
}

func TestQueuedCanBeDeliveredDirectly(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	m, err := s.Enqueue(ctx, "bob", []byte("x"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// An ack can overtake our own MarkSent (e.g. after a crash between
	// writing and marking).
	if n, err := s.MarkDelivered(ctx, "bob", [][16]byte{m.ID}); err != nil || n != 1 {
		t.Fatalf("MarkDelivered on queued: n=%d err=%v", n, err)
	}
}

func TestPendingOrderAndCursor(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	first, err := s.EnqueueBatch(ctx, "bob", bodies("a", 5), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueBatch(ctx, "carol", bodies("c", 3), time.Now()); err != nil {
		t.Fatal(err)
	}
	second, err := s.EnqueueBatch(ctx, "bob", bodies("b", 5), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	all := append(first, second...)
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("Seq not increasing: %d then %d", all[i-1].Seq, all[i].Seq)
		}
	}
	// Sent messages are still pending (not acknowledged); delivered ones are not.
	if err := s.MarkSent(ctx, "bob", ids(all[:4])); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkDelivered(ctx, "bob", ids(all[2:3])); err != nil {
		t.Fatal(err)
	}
	want := append(append([]Message{}, all[:2]...), all[3:]...)

	// Walk the outbox in pages of 3 using the cursor.
	var got []Message
	for after := int64(0); ; {
		page, err := s.Pending(ctx, "bob", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	if len(got) != len(want) {
		t.Fatalf("pending has %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !bytes.Equal(got[i].Body, want[i].Body) {
			t.Fatalf("pending[%d] = %q, want %q", i, got[i].Body, want[i].Body)
		}
	}
	peers, err := s.PendingPeers(ctx)
	if err != nil || strings.Join(peers, ",") != "bob,carol" {
		t.Fatalf("PendingPeers = %v, %v", peers, err)
	}
}

func TestEnqueueValidates(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	for name, body := range map[string][]byte{
		"too large": bytes.Repeat([]byte("a"), api.MaxBodyBytes+1),
		"not utf-8": {0xff, 0xfe},
	} {
		if _, err := s.Enqueue(ctx, "bob", body, time.Now()); !errors.Is(err, ErrInvalid) {
			t.Errorf("Enqueue %s: %v, want ErrInvalid", name, err)
		}
		if _, err := s.EnqueueBatch(ctx, "bob", [][]byte{[]byte("ok"), body}, time.Now()); !errors.Is(err, ErrInvalid) {
			t.Errorf("EnqueueBatch %s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Enqueue(ctx, "", []byte("x"), time.Now()); !errors.Is(err, ErrInvalid) {
		t.Errorf("Enqueue to empty peer: %v, want ErrInvalid", err)
	}
	if p, _ := s.Pending(ctx, "bob", 0, 10); len(p) != 0 {
		t.Errorf("rejected batches left %d messages behind", len(p))
	}
	if _, err := s.Enqueue(ctx, "bob", bytes.Repeat([]byte("a"), api.MaxBodyBytes), time.Now()); err != nil {
		t.Errorf("Enqueue of exactly api.MaxBodyBytes: %v", err)
	}
}

// An empty body must be stored as an empty BLOB: a nil slice once bound as
// NULL and failed the NOT NULL constraint (found by FuzzReceiveRoundTrip).
func TestEmptyBody(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	m, err := s.Enqueue(ctx, "bob", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueBatch(ctx, "bob", [][]byte{nil, {}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Message(ctx, "bob", Out, m.ID)
	if err != nil || got.Body == nil || len(got.Body) != 0 {
		t.Fatalf("empty body read back as %#v, %v", got.Body, err)
	}
}

// TestEnqueueDiskFullError checks that a write the disk has no room for
// fails with ErrDiskFull, which also matches syscall.ENOSPC: that is how
// the control server tells the user the disk is full instead of showing
// an internal error.
func TestEnqueueDiskFullError(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	var pages int
	if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	_, err := s.Enqueue(ctx, "bob", bytes.Repeat([]byte("z"), 32<<10), time.Now())
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Enqueue on a full database: %v, want ErrDiskFull (and ENOSPC)", err)
	}
}
