package daemon

// End-to-end benchmarks: real daemons (store, TLS peer sessions, presence)
// against an in-process tracker, all on loopback. Give each its own count
// (a daemon per ConnectionSetup iteration, a hundred per memory one):
//
//	go test -run '^$' -bench PairThroughput -benchtime=50000x ./daemon
//	go test -run '^$' -bench SendToStored -benchtime=5000x ./daemon
//	go test -run '^$' -bench ConnectionSetup -benchtime=20x ./daemon
//	go test -run '^$' -bench IdleSessionMemory -benchtime=1x ./daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/config"
	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// benchWait bounds every wait for an outcome, so a lost message fails the
// benchmark instead of hanging it. It is not a speed limit.
const benchWait = 2 * time.Minute

// benchPair starts alice and bob and brings their session up with one
// message, so that what is measured afterwards is the steady state.
func benchPair(b *testing.B) (alice, bob *node) {
	b.Helper()
	tr := trackertest.New(b)
	alice = startNode(b, tr, "alice", b.TempDir())
	bob = startNodeWithSocket(b, tr, "bob") // for BenchmarkSendToStored's attached client
	bob.add("alice")                        // else alice's messages are a request (consent)
	alice.send("bob", "warm-up")
	waitOutboxEmpty(b, alice, "bob")
	return alice, bob
}

// benchBody is a typical short chat line, distinct per message.
func benchBody(i int64) string {
	return fmt.Sprintf("message %08d: a typical chat line of about sixty bytes", i)
}

// waitOutboxEmpty blocks until n has nothing undelivered for peer. It is
// woken by n's event feed (every acknowledgement commits "delivered"
// events), so it adds no polling delay to what is measured.
func waitOutboxEmpty(tb testing.TB, n *node, peer string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	for {
		ch := n.d.store.EventNotify()
		p, err := n.d.store.Pending(ctx, peer, 0, 1)
		if err != nil {
			tb.Fatalf("%s outbox for %s: %v", n.name, peer, err)
		}
		if len(p) == 0 {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			tb.Fatalf("%s: messages for %s still undelivered after %v", n.name, peer, benchWait)
		}
	}
}

// waitEvent reads n's events after *cursor until match accepts one, and
// returns when that event's commit was published (the wake-up that
// revealed it, so the time of reading the events is not counted); *cursor
// moves past everything read.
func waitEvent(tb testing.TB, n *node, cursor *int64, match func(store.Event) bool) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	woke := time.Now()
	for {
		// Nothing new: wait before reading, so the probe does not compete
		// with the daemon for the CPU right after Send.
		if n.d.store.LastEventID() <= *cursor {
			if err := n.d.store.WaitEvents(ctx, *cursor); err != nil {
				tb.Errorf("%s: waiting for an event: %v", n.name, err)
				return time.Time{}
			}
			woke = time.Now()
		}
		evs, err := n.d.store.Events(ctx, *cursor, 256)
		if err != nil {
			tb.Errorf("%s events: %v", n.name, err)
			return time.Time{}
		}
		for _, e := range evs {
			*cursor = e.ID
			if match(e) {
				return woke
			}
		}
	}
}

func isMessage(id [16]byte) func(store.Event) bool {
	return func(e store.Event) bool { return e.Type == store.EventMessage && e.MessageID == id }
}

func isDelivered(id [16]byte) func(store.Event) bool {
	return func(e store.Event) bool { return e.Type == store.EventDelivered && e.MessageID == id }
}

// cpuTime is the CPU time (user+system) the process has used so far. Per
// message it is a steadier figure than wall time on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPairThroughput sends b.N messages from alice to bob through
// alice.d.Send, from one goroutine or several, and stops the clock when
// the last one is delivered: stored in bob's history and acknowledged
// into alice's store. Both processes' work counts, as both run here.
func BenchmarkPairThroughput(b *testing.B) {
	for _, senders := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) { benchThroughput(b, senders) })
	}
}

func benchThroughput(b *testing.B, senders int) {
	alice, bob := benchPair(b)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	cpu, st0, bst0 := cpuTime(), alice.d.store.Stats(), bob.d.store.Stats()
	b.ResetTimer()
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if _, err := alice.d.Send(ctx, "bob", benchBody(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	waitOutboxEmpty(b, alice, "bob")
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/msg")
	st, bst := alice.d.store.Stats(), bob.d.store.Stats()
	b.ReportMetric(float64(st.EnqueueRequests-st0.EnqueueRequests)/float64(st.EnqueueBatches-st0.EnqueueBatches), "sends/commit")
	// Synced commits per message on each side: what the durability costs.
	b.ReportMetric(float64(st.SyncedCommits-st0.SyncedCommits)/float64(b.N), "sender-syncs/msg")
	b.ReportMetric(float64(bst.SyncedCommits-bst0.SyncedCommits)/float64(b.N), "receiver-syncs/msg")
	checkStored(b, bob, "alice", b.N+1, senders == 1)
}

// checkStored checks that peer's messages arrived exactly once (and, with
// ordered, in the order they were sent).
func checkStored(b *testing.B, n *node, peer string, want int, ordered bool) {
	ms, err := n.d.History(context.Background(), peer, want+1, 0)
	if err != nil {
		b.Fatal(err)
	}
	if len(ms) != want {
		b.Fatalf("%s has %d messages from %s, want %d", n.name, len(ms), peer, want)
	}
	seen := make(map[string]bool, len(ms))
	for i, m := range ms[1:] { // ms[0] is the warm-up
		body := string(m.Body)
		if seen[body] || (ordered && body != benchBody(int64(i+1))) {
			b.Fatalf("%s: message %d is %q: duplicated or out of order", n.name, i+1, body)
		}
		seen[body] = true
	}
}

// BenchmarkSendToStored sends one message at a time and reports the
// latency from alice's Send call until bob's store has committed it (seen
// through bob's event feed: "stored"), until the event has reached a
// client attached to bob's control socket (chatctl attach's event stream:
// "client") and until alice's store has the receipt ("delivered"), each
// as p50, p99 and p999 in µs. Each commit on the way is synced. "queued"
// is Send's own latency: alice's synced commit.
func BenchmarkSendToStored(b *testing.B) {
	alice, bob := benchPair(b)
	watch := attachClient(b, bob)
	queued := make([]time.Duration, 0, b.N)
	stored := make([]time.Duration, 0, b.N)
	atClient := make([]time.Duration, 0, b.N)
	delivered := make([]time.Duration, 0, b.N)
	bobCur, aliceCur := bob.d.store.LastEventID(), alice.d.store.LastEventID()
	var i int64
	for b.Loop() {
		i++
		start := time.Now()
		m := alice.send("bob", benchBody(i))
		queued = append(queued, time.Since(start))
		t1 := waitEvent(b, bob, &bobCur, isMessage(m.ID))
		t2 := watch.waitMessage(b, m.ID)
		t3 := waitEvent(b, alice, &aliceCur, isDelivered(m.ID))
		stored = append(stored, t1.Sub(start))
		atClient = append(atClient, t2.Sub(start))
		delivered = append(delivered, t3.Sub(start))
	}
	reportPercentiles(b, "queued", queued)
	reportPercentiles(b, "stored", stored)
	reportPercentiles(b, "client", atClient)
	reportPercentiles(b, "delivered", delivered)
}

func reportPercentiles(b *testing.B, what string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	for _, p := range []struct {
		name string
		q    int // per mille
	}{{"p50", 500}, {"p99", 990}, {"p999", 999}} {
		b.ReportMetric(float64(lat[(len(lat)-1)*p.q/1000].Nanoseconds())/1e3, fmt.Sprintf("%s-%s-µs", what, p.name))
	}
}

// BenchmarkConnectionSetup measures first contact: alice sends to a user
// she has never talked to (a fresh daemon each time, started with the
// clock stopped). "up-ms" is until alice has a session (her presence
// event), "first-stored-ms" until the first message is in the new
// contact's store (as a request: alice is a stranger to them); means and
// p50s. Both include the tracker look-ups and pinning on both
// sides, TCP, the preamble, TLS 1.3 and Hello.
func BenchmarkConnectionSetup(b *testing.B) {
	tr := trackertest.New(b)
	alice := startNode(b, tr, "alice", b.TempDir())
	var up, stored []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("bob%d", i)
		bob := startNode(b, tr, name, b.TempDir())
		aliceCur, bobCur := alice.d.store.LastEventID(), bob.d.store.LastEventID()
		b.StartTimer()
		start := time.Now()
		m := alice.send(name, "hello")
		var tUp, tStored time.Time
		var wg sync.WaitGroup
		wg.Go(func() {
			tUp = waitEvent(b, alice, &aliceCur, func(e store.Event) bool {
				return e.Type == store.EventPresence && e.Peer == name
			})
		})
		// alice is a stranger to the new contact: her first message is a
		// request (consent), stored as such.
		tStored = waitEvent(b, bob, &bobCur, func(e store.Event) bool {
			return e.Type == store.EventRequest && e.Peer == "alice" || isMessage(m.ID)(e)
		})
		wg.Wait()
		b.StopTimer()
		up = append(up, tUp.Sub(start))
		stored = append(stored, tStored.Sub(start))
		bob.stop()
		b.StartTimer()
	}
	ms := func(ds []time.Duration) (mean, p50 float64) {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		slices.Sort(ds)
		return float64(sum.Microseconds()) / 1000 / float64(len(ds)), float64(ds[(len(ds)-1)/2].Microseconds()) / 1000
	}
	mean, p50 := ms(up)
	b.ReportMetric(mean, "up-ms")
	b.ReportMetric(p50, "up-p50-ms")
	mean, p50 = ms(stored)
	b.ReportMetric(mean, "first-stored-ms")
	b.ReportMetric(p50, "first-stored-p50-ms")
}

// quietConfig is testConfig with production keepalive and presence
// intervals, for many daemons that should sit still.
func quietConfig(tr *trackertest.Tracker, name, dir string) config.Config {
	cfg := testConfig(tr, name, dir)
	def := config.Default()
	cfg.Peer.KeepAlive = def.Peer.KeepAlive
	cfg.Presence.CheckInterval = def.Presence.CheckInterval
	cfg.Presence.ObserveInterval = def.Presence.ObserveInterval
	return cfg
}

// The idle-session memory benchmark runs the hub daemon in a child
// process (this test binary, re-run with hubEnv set), so that its memory
// is not mixed with the K daemons that connect to it. The child answers
// "mem" lines on stdin with its own figures on stdout.
const hubEnv = "P2PCHAT_BENCH_HUB" // tracker URL and data directory, tab-separated

// hubMem is what the child reports: Go heap in use and goroutine stacks
// after a forced GC, resident set size from /proc, and its session count.
type hubMem struct {
	heap, stack, rss int64
	sessions         int
}

// hubProc is the parent's handle on the child hub.
type hubProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startHub(b *testing.B, tr *trackertest.Tracker) *hubProc {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hubEnv+"="+tr.URL+"\t"+b.TempDir())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start hub process: %v", err)
	}
	h := &hubProc{cmd: cmd, in: in, out: bufio.NewReader(out)}
	b.Cleanup(h.stop)
	if line, err := h.out.ReadString('\n'); line != "ready\n" {
		b.Fatalf("hub process: %q, %v", line, err)
	}
	return h
}

// stop closes the child's stdin, which makes it shut its daemon down.
func (h *hubProc) stop() {
	h.in.Close()
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
}

func (h *hubProc) mem(b *testing.B) hubMem {
	b.Helper()
	if _, err := io.WriteString(h.in, "mem\n"); err != nil {
		b.Fatalf("ask hub for memory: %v", err)
	}
	line, err := h.out.ReadString('\n')
	var m hubMem
	if err == nil {
		_, err = fmt.Sscanf(line, "mem %d %d %d %d\n", &m.heap, &m.stack, &m.rss, &m.sessions)
	}
	if err != nil {
		b.Fatalf("hub memory report %q: %v", line, err)
	}
	return m
}

// add makes the hub pin names from the tracker, as `chatctl add` does.
func (h *hubProc) add(b *testing.B, names ...string) {
	b.Helper()
	for len(names) > 0 {
		n := min(len(names), 100)
		if _, err := io.WriteString(h.in, "add "+strings.Join(names[:n], " ")+"\n"); err != nil {
			b.Fatalf("ask hub to add contacts: %v", err)
		}
		if line, err := h.out.ReadString('\n'); line != "added\n" {
			b.Fatalf("hub add: %q, %v", line, err)
		}
		names = names[n:]
	}
}

// heapProfile makes the hub write a heap profile to path.
func (h *hubProc) heapProfile(b *testing.B, path string) {
	b.Helper()
	if _, err := io.WriteString(h.in, "heap "+path+"\n"); err != nil {
		b.Fatalf("ask hub for a heap profile: %v", err)
	}
	if line, err := h.out.ReadString('\n'); line != "heap <nil>\n" {
		b.Fatalf("hub heap profile: %q, %v", line, err)
	}
}

// waitSessions asks the hub until it holds exactly k sessions.
func (h *hubProc) waitSessions(b *testing.B, k int) hubMem {
	b.Helper()
	deadline := time.Now().Add(benchWait)
	for {
		m := h.mem(b)
		if m.sessions == k {
			return m
		}
		if time.Now().After(deadline) {
			b.Fatalf("hub has %d sessions, want %d", m.sessions, k)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(hubEnv); spec != "" {
		os.Exit(runHub(spec))
	}
	os.Exit(m.Run())
}

// runHub is the child process of BenchmarkIdleSessionMemory: a daemon
// called "hub" that reports its memory on request until stdin closes.
func runHub(spec string) int {
	url, dir, _ := strings.Cut(spec, "\t")
	d, err := New(Options{Config: quietConfig(&trackertest.Tracker{URL: url}, "hub", dir), NoControl: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(benchWait); !d.Presence().Registered; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "hub: not registered on the tracker")
			return 1
		}
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if names, ok := strings.CutPrefix(sc.Text(), "add "); ok {
			for _, name := range strings.Fields(names) {
				if _, err := d.AddContact(ctx, name); err != nil {
					fmt.Fprintln(os.Stderr, "hub: add", name+":", err)
					return 1
				}
			}
			fmt.Println("added")
			continue
		}
		if path, ok := strings.CutPrefix(sc.Text(), "heap "); ok {
			// A heap profile, for go tool pprof: where the memory is.
			runtime.GC()
			f, err := os.Create(path)
			if err == nil {
				err = pprof.WriteHeapProfile(f)
				f.Close()
			}
			fmt.Println("heap", err)
			continue
		}
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		debug.FreeOSMemory()
		runtime.ReadMemStats(&ms)
		fmt.Printf("mem %d %d %d %d\n", ms.HeapAlloc, ms.StackInuse, readRSS(), len(d.peers.Sessions()))
	}
	return 0
}

// readRSS returns the process's resident set size in bytes (0 if unknown).
func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
