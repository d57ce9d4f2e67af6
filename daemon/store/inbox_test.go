package store

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
)

func TestReceiveDedupe(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	batch := incoming(5, "hello")
	batch = append(batch, batch[1]) // a duplicate inside one batch, too

	fresh, err := s.Receive(ctx, "alice", batch)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, true, true, true, false}; !slices.Equal(fresh, want) {
		t.Fatalf("first delivery fresh = %v, want %v", fresh, want)
	}
	fresh, err = s.Receive(ctx, "alice", batch)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(fresh, true) {
		t.Fatalf("redelivered batch fresh = %v, want all duplicates", fresh)
	}
	// The same ID from another peer is a different message.
	if fresh, _ := s.Receive(ctx, "bob", batch[:1]); !fresh[0] {
		t.Fatal("same ID from another peer treated as duplicate")
	}

	h, err := s.History(ctx, "alice", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 5 {
		t.Fatalf("history has %d messages, want each of 5 once", len(h))
	}
	for i, m := range h {
		if m.ID != batch[i].ID || m.State != Received || m.Direction != In || !m.SentAt.Equal(batch[i].SentAt) {
			t.Fatalf("history[%d] = %+v", i, m)
		}
	}
	evs, err := s.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 6 { // 5 from alice, 1 from bob
		t.Fatalf("%d events, want 6 (duplicates must not be evented)", len(evs))
	}
	if m := evs[0].Message; m == nil || m.ID != batch[0].ID || string(m.Body) != "hello" {
		t.Fatalf("message event carries %+v", m)
	}
}

func TestHistoryPaging(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	// Interleave directions and another peer's traffic.
	var want []string
	for i := range 10 {
		out := fmt.Sprintf("out %d", i)
		if _, err := s.Enqueue(ctx, "bob", []byte(out), time.Now()); err != nil {
			t.Fatal(err)
		}
		in := incoming(1, fmt.Sprintf("in %d", i))
		if _, err := s.Receive(ctx, "bob", in); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Receive(ctx, "carol", incoming(1, "noise")); err != nil {
			t.Fatal(err)
		}
		want = append(want, out, fmt.Sprintf("in %d", i))
	}

	var got []string
	for before := int64(0); ; {
		page, err := s.History(ctx, "bob", 3, before)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for i := 1; i < len(page); i++ {
			if page[i].Seq <= page[i-1].Seq {
				t.Fatal("page not in ascending Seq order")
			}
		}
		var texts []string
		for _, m := range page {
			texts = append(texts, string(m.Body))
		}
		got = append(texts, got...)
		before = page[0].Seq
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged history = %q\nwant %q", got, want)
	}
}

func TestReceiveRejectsInvalidBatchWhole(t *testing.T) {
	s, _ := openTest(t)
	batch := incoming(3, "ok")
	batch[2].Body = bytes.Repeat([]byte("a"), api.MaxBodyBytes+1)
	if _, err := s.Receive(ctxT(t), "alice", batch); err == nil {
		t.Fatal("oversized message accepted")
	}
	if h, _ := s.History(ctxT(t), "alice", 10, 0); len(h) != 0 {
		t.Fatalf("rejected batch stored %d messages", len(h))
	}
}

// TestReceiveMixedBatch redelivers a large batch of which some messages are
// already stored, so that multi-row inserts are partly skipped.
func TestReceiveMixedBatch(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	all := incoming(150, "m")
	var old []Message
	for i := 0; i < len(all); i += 3 {
		old = append(old, all[i])
	}
	if _, err := s.Receive(ctx, "alice", old); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.Receive(ctx, "alice", all)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fresh {
		if f != (i%3 != 0) {
			t.Fatalf("fresh[%d] = %v", i, f)
		}
	}
	h, _ := s.History(ctx, "alice", 1000, 0)
	evs, _ := s.Events(ctx, 0, 1000)
	if len(h) != len(all) || len(evs) != len(all) {
		t.Fatalf("%d messages and %d events, want %d of each", len(h), len(evs), len(all))
	}
	seen := map[[16]byte]bool{}
	for _, e := range evs {
		if seen[e.MessageID] || e.Message == nil {
			t.Fatalf("event %d repeated or without message", e.ID)
		}
		seen[e.MessageID] = true
	}
}
