package store

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// pendingFromDB is Pending without the in-memory tail: the truth the tail
// must agree with.
func pendingFromDB(t *testing.T, s *Store, peer string, after int64, limit int) []Message {
	t.Helper()
	msgs, err := s.queryMessages(ctxT(t), `SELECT `+messageCols+` FROM messages
		WHERE peer = ? AND dir = 'out' AND delivered_at = 0 AND seq > ?
		ORDER BY seq LIMIT ?`, peer, after, limit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Whatever mix of sends, batches, sent and delivered marks happens, Pending
// returns what the database holds: the same messages, states and bodies,
// from every cursor a session could hold.
func TestPendingMatchesDatabase(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	rng := rand.New(rand.NewPCG(1, 2))
	peers := []string{"bob", "carol"}
	var outbox []Message // everything enqueued, to pick marks from
	for step := range 150 {
		peer := peers[rng.IntN(len(peers))]
		switch op := rng.IntN(10); {
		case op < 4:
			m, err := s.Enqueue(ctx, peer, fmt.Appendf(nil, "m%d", step), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			outbox = append(outbox, m)
		case op < 5:
			ms, err := s.EnqueueBatch(ctx, peer, bodies(fmt.Sprint("b", step), 1+rng.IntN(5)), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			outbox = append(outbox, ms...)
		case op < 7:
			if err := s.MarkSent(ctx, peer, pickIDs(rng, outbox, peer)); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := s.MarkDelivered(ctx, peer, pickIDs(rng, outbox, peer)); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range peers {
			// From the start, and from just before and at a few pending
			// messages, the newest above all (where the tail answers).
			cursors := []int64{0}
			all := pendingFromDB(t, s, p, 0, 1<<20)
			for i := len(all) - 1; i >= 0 && i >= len(all)-4; i-- {
				cursors = append(cursors, all[i].Seq, all[i].Seq-1)
			}
			for _, c := range cursors {
				want := pendingFromDB(t, s, p, c, 3)
				got, err := s.Pending(ctx, p, c, 3)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
					t.Fatalf("step %d: Pending(%s, after %d) =\n%+v\nthe database has\n%+v", step, p, c, got, want)
				}
			}
		}
	}
}

func pickIDs(rng *rand.Rand, outbox []Message, peer string) [][16]byte {
	var ids [][16]byte
	for _, m := range outbox {
		if m.Peer == peer && rng.IntN(3) == 0 {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// A peer whose outbox outgrows the tail is served from the database, and
// the tail starts again with what comes after.
func TestPendingBeyondTheTail(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	ms, err := s.EnqueueBatch(ctx, "bob", bodies("x", maxTailMsgs+10), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.Enqueue(ctx, "bob", []byte("after the flood"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, after := range []int64{0, ms[500].Seq, ms[len(ms)-1].Seq} {
		got, err := s.Pending(ctx, "bob", after, 2*maxTailMsgs)
		if err != nil {
			t.Fatal(err)
		}
		if want := pendingFromDB(t, s, "bob", after, 2*maxTailMsgs); !reflect.DeepEqual(got, want) {
			t.Fatalf("Pending(after %d): %d messages, the database has %d", after, len(got), len(want))
		}
		if got[len(got)-1].ID != last.ID {
			t.Fatalf("Pending(after %d) does not end with the newest message", after)
		}
	}
	// The caller's copy is its own: changing it changes nothing stored.
	got, _ := s.Pending(ctx, "bob", ms[len(ms)-1].Seq, 1)
	got[0].Body[0] = 'X'
	again, _ := s.Pending(ctx, "bob", ms[len(ms)-1].Seq, 1)
	if string(again[0].Body) != "after the flood" {
		t.Fatalf("a caller's change reached the store: %q", again[0].Body)
	}
}

// A reader woken by a "delivered" event finds the message gone from
// Pending: the tail is updated before a commit's events are published.
func TestDeliveredEventAfterTail(t *testing.T) {
	s, _ := openTest(t)
	ctx := ctxT(t)
	for i := range 200 {
		m, err := s.Enqueue(ctx, "bob", fmt.Appendf(nil, "m%d", i), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		woke := make(chan []Message)
		ch, last := s.EventNotify(), s.LastEventID()
		go func() {
			<-ch
			for s.LastEventID() == last { // a wake-up is for a commit with events
				ch = s.EventNotify()
				<-ch
			}
			p, _ := s.Pending(ctx, "bob", 0, 10)
			woke <- p
		}()
		if n, err := s.MarkDelivered(ctx, "bob", [][16]byte{m.ID}); err != nil || n != 1 {
			t.Fatalf("MarkDelivered = %d, %v", n, err)
		}
		if p := <-woke; len(p) != 0 {
			t.Fatalf("message %d: woken by its delivered event, Pending still has %d messages", i, len(p))
		}
	}
}
