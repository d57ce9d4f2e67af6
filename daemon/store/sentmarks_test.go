package store

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// dbState reads a message's state from the database itself, past the
// marks held in memory.
func dbState(t *testing.T, s *Store, id [16]byte) State {
	t.Helper()
	var st string
	if err := s.w.QueryRow(`SELECT state FROM messages WHERE dir = 'out' AND id = ?`, id[:]).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return State(st)
}

// MarkSent is shown at once and written only when the acknowledgement is
// late; a timely acknowledgement makes the write unnecessary.
func TestMarkSentIsWrittenOnlyWhenLate(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	s.now = func() time.Time { return time.Unix(0, now.Load()) }
	ms, err := s.EnqueueBatch(ctx, "bob", bodies("m", 3), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, "bob", ids(ms)); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		got, err := s.Message(ctx, "bob", Out, m.ID)
		if err != nil || got.State != Sent {
			t.Fatalf("Message after MarkSent: %v, %v; want sent", got.State, err)
		}
		if st := dbState(t, s, m.ID); st != Queued {
			t.Fatalf("database says %v right after MarkSent; want queued (not written yet)", st)
		}
	}
	if h, _ := s.History(ctx, "bob", 10, 0); len(h) != 3 || h[0].State != Sent {
		t.Fatalf("history after MarkSent: %+v", h)
	}
	// The first is acknowledged in time: straight to delivered.
	if n, err := s.MarkDelivered(ctx, "bob", ids(ms[:1])); err != nil || n != 1 {
		t.Fatalf("MarkDelivered: %d, %v", n, err)
	}
	// Later the others' marks are due, and written with the next MarkSent.
	now.Add(int64(2 * sentWriteAfter))
	more, err := s.Enqueue(ctx, "bob", []byte("n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, "bob", [][16]byte{more.ID}); err != nil {
		t.Fatal(err)
	}
	want := map[[16]byte]State{ms[0].ID: Delivered, ms[1].ID: Sent, ms[2].ID: Sent, more.ID: Queued}
	for id, st := range want {
		if got := dbState(t, s, id); got != st {
			t.Errorf("database state %v, want %v", got, st)
		}
	}
	if got, _ := s.Message(ctx, "bob", Out, more.ID); got.State != Sent {
		t.Errorf("newest message shows %v, want sent", got.State)
	}
	// A delivered message stays delivered whatever marks come after.
	if err := s.MarkSent(ctx, "bob", ids(ms[:1])); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Message(ctx, "bob", Out, ms[0].ID); got.State != Delivered {
		t.Errorf("delivered message shows %v after a late MarkSent", got.State)
	}
}

// Close writes the marks still held, so a restart shows what was sent.
func TestMarkSentSurvivesClose(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "chatd.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	m, err := s.Enqueue(ctx, "bob", []byte("x"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, "bob", [][16]byte{m.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Message(ctx, "bob", Out, m.ID); err != nil || got.State != Sent {
		t.Fatalf("after reopening: %v, %v; want sent", got.State, err)
	}
}

// Acknowledgements of messages the outbox tail holds are applied by Seq,
// the others by ID; both count and event each message once.
func TestMarkDeliveredBySeqAndByID(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	old, err := s.EnqueueBatch(ctx, "bob", bodies("old", maxTailMsgs+5), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The flood dropped bob's tail; these start a new one.
	recent, err := s.EnqueueBatch(ctx, "bob", bodies("new", 4), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if seqs, rest := s.tail.seqsOf("bob", ids(append(old[:2], recent...))); len(seqs) != 4 || len(rest) != 2 {
		t.Fatalf("tail resolves %d by seq, %d by id; want 4 and 2", len(seqs), len(rest))
	}
	ack := append(ids(old[:2]), ids(recent)...)
	ack = append(ack, recent[0].ID, newMessageID()) // a repeat and a stranger
	n, err := s.MarkDelivered(ctx, "bob", ack)
	if err != nil || n != 6 {
		t.Fatalf("MarkDelivered = %d, %v; want 6", n, err)
	}
	if n, err := s.MarkDelivered(ctx, "bob", ack); err != nil || n != 0 {
		t.Fatalf("repeated MarkDelivered = %d, %v; want 0", n, err)
	}
	evs, err := s.Events(ctx, 0, 100)
	if err != nil || len(evs) != 6 {
		t.Fatalf("%d events, %v; want 6 delivered events", len(evs), err)
	}
	p, err := s.Pending(ctx, "bob", 0, 10000)
	if err != nil || len(p) != len(old)-2 {
		t.Fatalf("%d pending, %v; want %d", len(p), err, len(old)-2)
	}
}
