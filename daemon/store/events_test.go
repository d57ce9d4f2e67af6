package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestEventsResumeFromCursor(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	if _, err := s.Receive(ctx, "alice", incoming(7, "m")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(ctx, Event{Type: EventPresence, Peer: "alice", Data: json.RawMessage(`{"online":true}`)}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, 0, 100)
	if err != nil || len(all) != 8 {
		t.Fatalf("Events = %d, %v; want 8", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID != all[i-1].ID+1 {
			t.Fatalf("event IDs %d then %d: not strictly increasing without gaps", all[i-1].ID, all[i].ID)
		}
	}
	if s.LastEventID() != all[7].ID {
		t.Errorf("LastEventID = %d, want %d", s.LastEventID(), all[7].ID)
	}
	// A reader that stops after any event and resumes gets exactly the rest.
	for cut := range all {
		rest, err := s.Events(ctx, all[cut].ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != len(all)-cut-1 || (len(rest) > 0 && rest[0].ID != all[cut+1].ID) {
			t.Fatalf("resume after %d: got %d events", all[cut].ID, len(rest))
		}
	}
	if got := all[7]; got.Type != EventPresence || string(got.Data) != `{"online":true}` || got.Message != nil {
		t.Errorf("presence event = %+v", got)
	}
}

func TestEventsStreamUnderConcurrentWrites(t *testing.T) {
	s, _ := openTest(t)
	ctx, cancel := context.WithTimeout(ctxT(t), 30*time.Second)
	defer cancel()
	const writers, batches, perBatch = 4, 20, 5
	const total = writers * batches * perBatch

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			peer := string(rune('a' + w))
			for range batches {
				if _, err := s.Receive(ctx, peer, incoming(perBatch, "x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Stream like the control API: read after the cursor, wait when idle.
	var seen []int64
	for cursor := int64(0); len(seen) < total; {
		evs, err := s.Events(ctx, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			seen = append(seen, e.ID)
			cursor = e.ID
		}
		if len(evs) == 0 {
			if err := s.WaitEvents(ctx, cursor); err != nil {
				t.Fatalf("WaitEvents: %v (saw %d of %d)", err, len(seen), total)
			}
		}
	}
	wg.Wait()
	for i := 1; i < len(seen); i++ {
		if seen[i] != seen[i-1]+1 {
			t.Fatalf("stream saw %d after %d: gap or repeat", seen[i], seen[i-1])
		}
	}
}

func TestEventNotifyWakesAllWaiters(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	ch := s.EventNotify()
	last := s.LastEventID()

	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() { errs <- s.WaitEvents(ctx, last) }()
	}
	e, err := s.AppendEvent(ctx, Event{Type: EventPresence, Peer: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}
	select {
	case <-ch:
	default:
		t.Fatal("EventNotify channel taken before the append was not closed")
	}
	// Waiting for what is already there returns at once; waiting beyond it
	// blocks until the context ends.
	if err := s.WaitEvents(ctx, e.ID-1); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.WaitEvents(short, e.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitEvents with cancelled ctx: %v", err)
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	s, _ := openTest(t)
	done := make(chan error, 1)
	go func() { done <- s.WaitEvents(context.Background(), s.LastEventID()) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiter after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Events(context.Background(), 0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Events after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Enqueue(context.Background(), "bob", []byte("x"), time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Receive(context.Background(), "bob", incoming(1, "x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Receive after Close: %v, want ErrClosed", err)
	}
}

func TestPruneEvents(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	for range 10 {
		if _, err := s.AppendEvent(ctx, Event{Type: EventPresence}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PruneEvents(ctx, 3); err != nil {
		t.Fatal(err)
	}
	kept, err := s.Events(ctx, 0, 100)
	if err != nil || len(kept) != 3 || kept[0].ID != 8 {
		t.Fatalf("after prune kept %+v, %v; want IDs 8..10", kept, err)
	}
	if _, err := s.Events(ctx, 2, 100); !errors.Is(err, ErrEventsPruned) {
		t.Errorf("resume from a pruned cursor: %v, want ErrEventsPruned", err)
	}
	if evs, err := s.Events(ctx, 7, 100); err != nil || len(evs) != 3 {
		t.Errorf("resume right before the kept part: %d, %v", len(evs), err)
	}
	// keep 0 still keeps the newest event, the anchor for the next ID.
	if err := s.PruneEvents(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Events(ctx, 8, 100); !errors.Is(err, ErrEventsPruned) {
		t.Errorf("resume from a pruned cursor after pruning to the last: %v, want ErrEventsPruned", err)
	}
	if evs, err := s.Events(ctx, 10, 100); err != nil || len(evs) != 0 {
		t.Errorf("up-to-date reader after pruning: %v, %v", evs, err)
	}
	// IDs are never reused after pruning.
	if e, err := s.AppendEvent(ctx, Event{Type: EventPresence}); err != nil || e.ID != 11 {
		t.Errorf("next event after prune: %d, %v; want 11", e.ID, err)
	}
}

func TestAppendEventValidates(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.AppendEvent(ctxT(t), Event{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty type: %v", err)
	}
	if _, err := s.AppendEvent(ctxT(t), Event{Type: "x", Data: json.RawMessage("{")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad JSON: %v", err)
	}
}
