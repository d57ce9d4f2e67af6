package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/ctl/client"
)

// Crash safety at scale: alice and bob send to each other without pause
// while one of the two daemons, picked at random, is killed with SIGKILL
// at a random moment and restarted on the same data directory. In the end
// every message chatd accepted is stored exactly once on both sides, in
// the sender's order, and a send whose outcome the test could not see
// (the daemon died under it) is stored at most once.
//
// The trial count is 12, or 100 with P2PCHAT_FULL=1 (the full run);
// P2PCHAT_CRASH_SEED=N replays the kill schedule of a failed run (the seed
// is printed on failure; the timing of the sends is not replayable).
//
//	P2PCHAT_FULL=1 go test -count=1 -timeout 20m -run TestCrashSafety ./e2e/

const (
	crashTrialsShort = 12
	crashTrialsFull  = 100
	// streamsPerSide: two sender goroutines per direction, so that
	// concurrent sends share group commits, as two chatctl would.
	streamsPerSide = 2
	maxKillDelay   = 300 * time.Millisecond
	// drainLimit bounds the wait for both outboxes to empty at the end.
	drainLimit = 3 * waitLimit
	// sendTimeout bounds one send; a daemon that is up answers at once.
	sendTimeout = 10 * time.Second
)

func TestCrashSafetyUnderRandomKills(t *testing.T) {
	trials := crashTrialsShort
	if os.Getenv("P2PCHAT_FULL") == "1" {
		trials = crashTrialsFull
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("P2PCHAT_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("P2PCHAT_CRASH_SEED=%q: %v", s, err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kill schedule seed: P2PCHAT_CRASH_SEED=%d", seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	begin := time.Now()

	_, alice, bob := pair(t) // each the other's contact

	senders := startSenders(t, alice, bob)
	var kills [2]struct{ running, starting int }
	sides := [2]*chatd{alice, bob}
	for range trials {
		side := rng.IntN(2)
		d := sides[side]
		// One kill in four hits a daemon that is still starting (opening
		// its store, registering); the others one that is up and busy.
		if rng.IntN(4) == 0 {
			d.kill()
			d.start()
			time.Sleep(randDelay(rng, maxKillDelay/2))
			kills[side].starting++
		} else {
			time.Sleep(randDelay(rng, maxKillDelay))
			kills[side].running++
		}
		d.kill()
		d.restart()
	}
	sendTime := time.Since(begin)
	streams := senders.stop()

	drainStart := time.Now()
	histories := waitDrained(t, alice, bob)
	drainTime := time.Since(drainStart)

	var accepted, maybe, maybeStored int
	for dir, ss := range map[string][]*sendStream{"alice>bob": streams[:streamsPerSide], "bob>alice": streams[streamsPerSide:]} {
		a, m, ms := checkDirection(t, dir, ss, histories[dir].out, histories[dir].in)
		accepted, maybe, maybeStored = accepted+a, maybe+m, maybeStored+ms
	}
	t.Logf("crash safety: %d trials (seed %d), kills alice %d running + %d starting, bob %d running + %d starting; "+
		"%d messages accepted, %d sends failed with the daemon dying under them (%d of those were stored, once), "+
		"all delivered exactly once in order; sending %v, draining %v, total %v",
		trials, seed, kills[0].running, kills[0].starting, kills[1].running, kills[1].starting,
		accepted, maybe, maybeStored, sendTime.Round(time.Millisecond), drainTime.Round(time.Millisecond),
		time.Since(begin).Round(time.Millisecond))
}

// randDelay is a delay in [0, max) from the seeded generator.
func randDelay(rng *rand.Rand, max time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(max)))
}

// attempt is one send as the test saw it: accepted (with the ID chatd
// returned) or failed, in which case chatd may or may not have stored it.
type attempt struct {
	body string
	id   string // set when accepted
	err  error  // set when failed
}

// sendStream is one sender goroutine's sends, in order.
type sendStream struct {
	name     string // e.g. "alice>bob#1"
	to       string
	c        *client.Client
	attempts []attempt // owned by the goroutine until senders.stop returns
}

type senders struct {
	streams []*sendStream
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// startSenders starts streamsPerSide goroutines per direction, each
// sending numbered messages until stopped. A failed send is retried with
// a new body (the attempt number is part of it), so that an earlier
// attempt chatd did store can be told apart from the retry.
func startSenders(t *testing.T, alice, bob *chatd) *senders {
	ctx, cancel := context.WithCancel(context.Background())
	s := &senders{cancel: cancel}
	for _, p := range [][2]*chatd{{alice, bob}, {bob, alice}} {
		c := &client.Client{Socket: p[0].sock}
		for i := range streamsPerSide {
			s.streams = append(s.streams, &sendStream{name: fmt.Sprintf("%s>%s#%d", p[0].name, p[1].name, i), to: p[1].name, c: c})
		}
	}
	for _, st := range s.streams {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			st.run(ctx)
		}()
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// stop ends the senders once their current send has its outcome.
func (s *senders) stop() []*sendStream {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		for _, st := range s.streams {
			st.c.CloseIdleConnections()
		}
	})
	return s.streams
}

func (st *sendStream) run(ctx context.Context) {
	for n := 1; ctx.Err() == nil; n++ {
		for try := 1; ctx.Err() == nil; try++ {
			body := fmt.Sprintf("%s %06d.%d", st.name, n, try)
			// Not ctx: a send in flight when the test stops gets its
			// outcome, so only sends cut off by a kill are in doubt.
			sctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
			m, err := st.c.Send(sctx, st.to, body)
			cancel()
			st.attempts = append(st.attempts, attempt{body: body, id: m.ID, err: err})
			if err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond) // the daemon is down: wait for its restart
		}
		time.Sleep(rand.N(4 * time.Millisecond)) // a pace a fast typist cannot reach
	}
}

// conversation is one direction's messages as the sender and the receiver
// store them.
type conversation struct{ out, in []api.Message }

// waitDrained waits until both outboxes are empty (every outgoing message
// delivered) and returns each direction's messages from both sides.
func waitDrained(t *testing.T, alice, bob *chatd) map[string]conversation {
	t.Helper()
	ca, cb := &client.Client{Socket: alice.sock}, &client.Client{Socket: bob.sock}
	defer ca.CloseIdleConnections()
	defer cb.CloseIdleConnections()
	var a, b []api.Message
	pending := func(ms []api.Message) int {
		n := 0
		for _, m := range ms {
			if m.Direction == api.DirectionOut && m.State != api.StateDelivered {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(drainLimit)
	for {
		a, b = allMessages(t, ca, "bob"), allMessages(t, cb, "alice")
		pa, pb := pending(a), pending(b)
		if pa == 0 && pb == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, alice still has %d and bob %d undelivered messages", drainLimit, pa, pb)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The receiver stores before it acks, so what is delivered is
	// already in the other's history: no second wait needed.
	return map[string]conversation{
		"alice>bob": {out: only(a, api.DirectionOut), in: only(b, api.DirectionIn)},
		"bob>alice": {out: only(b, api.DirectionOut), in: only(a, api.DirectionIn)},
	}
}

func allMessages(t *testing.T, c *client.Client, peer string) []api.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ms, err := c.LastMessages(ctx, peer, math.MaxInt32)
	if err != nil {
		t.Fatalf("history with %s: %v", peer, err)
	}
	return ms
}

func only(ms []api.Message, dir string) []api.Message {
	var out []api.Message
	for _, m := range ms {
		if m.Direction == dir {
			out = append(out, m)
		}
	}
	return out
}

// checkDirection checks one direction: the sender's outbox (out) and the
// receiver's history (in) hold the same messages in the same order, each
// once; every accepted send is there with the ID chatd returned; a failed
// one at most once; and each stream's messages keep their order. It
// returns how many sends were accepted, failed, and failed yet stored.
func checkDirection(t *testing.T, dir string, streams []*sendStream, out, in []api.Message) (accepted, failed, failedStored int) {
	t.Helper()
	type ref struct {
		stream, index int // position in streams[stream].attempts
	}
	known := map[string]ref{}
	for si, st := range streams {
		for i, a := range st.attempts {
			known[a.body] = ref{si, i}
			if a.err == nil {
				accepted++
			} else {
				failed++
			}
		}
	}
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 10 {
			t.Errorf("%s: "+format, append([]any{dir}, args...)...)
		}
	}
	defer func() {
		if errs > 10 {
			t.Errorf("%s: %d more problems", dir, errs-10)
		}
	}()

	if len(out) != len(in) {
		fail("sender has %d outgoing messages, receiver %d incoming", len(out), len(in))
	}
	for i := range min(len(out), len(in)) {
		if out[i].ID != in[i].ID || out[i].Body != in[i].Body {
			fail("message %d: sender has %s %q, receiver %s %q (order or content differs)", i, out[i].ID, out[i].Body, in[i].ID, in[i].Body)
		}
	}
	seen := map[string]string{} // body → ID
	last := make([]int, len(streams))
	for i := range last {
		last[i] = -1
	}
	for i, m := range out {
		if m.State != api.StateDelivered {
			fail("outgoing %s %q is %s, want delivered", m.ID, m.Body, m.State)
		}
		if id, dup := seen[m.Body]; dup {
			fail("%q stored twice by the sender (IDs %s and %s)", m.Body, id, m.ID)
		}
		seen[m.Body] = m.ID
		r, ok := known[m.Body]
		if !ok {
			fail("outgoing message %d %q was never sent", i, m.Body)
			continue
		}
		a := streams[r.stream].attempts[r.index]
		if a.err == nil && a.id != m.ID {
			fail("%q: send returned ID %s, history has %s", m.Body, a.id, m.ID)
		}
		if a.err != nil {
			failedStored++
		}
		if r.index <= last[r.stream] {
			fail("%q stored after a later message of its stream, %q", m.Body, streams[r.stream].attempts[last[r.stream]].body)
		}
		last[r.stream] = r.index
	}
	inIDs := map[string]bool{}
	for _, m := range in {
		if inIDs[m.ID] {
			fail("receiver stored %s %q twice", m.ID, m.Body)
		}
		inIDs[m.ID] = true
		if m.State != api.StateReceived {
			fail("incoming %s %q is %s, want received", m.ID, m.Body, m.State)
		}
	}
	for _, st := range streams {
		for _, a := range st.attempts {
			if a.err == nil && seen[a.body] == "" {
				fail("accepted %s %q is missing from the sender's history", a.id, a.body)
			}
		}
	}
	checkFailedSends(t, dir, streams)
	return accepted, failed, failedStored
}

// checkFailedSends requires that sends failed only the ways a killed
// daemon makes them fail: nothing listening, or the connection cut.
// chatd refusing a send (an API error) while it is up is a bug.
func checkFailedSends(t *testing.T, dir string, streams []*sendStream) {
	t.Helper()
	kinds := map[string]int{}
	for _, st := range streams {
		for _, a := range st.attempts {
			if a.err == nil {
				continue
			}
			var ae *api.Error
			switch {
			case errors.Is(a.err, client.ErrDaemonNotRunning):
				kinds["not running"]++
			case errors.As(a.err, &ae):
				t.Errorf("%s: %q: chatd refused the send: %v (code %s)", dir, a.body, a.err, ae.Code)
			default:
				kinds[cutKind(a.err)]++
			}
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	t.Logf("%s: failed sends: %s", dir, strings.Join(parts, ", "))
}

// cutKind names a send cut off by a kill, from its error text.
func cutKind(err error) string {
	s := err.Error()
	for _, k := range []string{"EOF", "connection reset", "broken pipe", "server closed idle connection", "deadline exceeded"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return s
}
