package daemon

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/daemon/store"
	"github.com/p2pchat/p2pchat/tracker/trackertest"
)

// BenchmarkPairsAtOnce runs many conversations at once: 100 pairs of real
// daemons (200 daemons, 200 stores, all in this process, on loopback), in
// each of which alice sends to her own bob from one goroutine, a message
// at a time (Send returns once the message is durably queued). "msgs/s"
// counts messages durably stored by their bob and acknowledged back to
// their alice, over all pairs; each bob must hold what his alice sent,
// once and in order.
//
//	go test -run '^$' -bench PairsAtOnce -benchtime=20000x ./daemon
func BenchmarkPairsAtOnce(b *testing.B) {
	const pairs = 100
	tr := trackertest.New(b)
	alices, bobs := make([]*node, pairs), make([]*node, pairs)
	for i := range pairs {
		alices[i] = startNodeConfig(b, quietConfig(tr, fmt.Sprintf("a%d", i), b.TempDir()))
		bobs[i] = startNodeConfig(b, quietConfig(tr, fmt.Sprintf("b%d", i), b.TempDir()))
	}
	for i := range pairs {
		bobs[i].add(alices[i].name)
		alices[i].send(bobs[i].name, "warm-up")
	}
	for i := range pairs {
		waitOutboxEmpty(b, alices[i], bobs[i].name)
	}
	ctx := context.Background()
	work := make(chan struct{}, 4096)
	sent := make([]atomic.Int64, pairs)
	errs := make(chan error, pairs)
	var wg sync.WaitGroup
	cpu := cpuTime()
	start := time.Now()
	for i := range pairs {
		wg.Go(func() {
			for range work {
				n := sent[i].Add(1)
				if _, err := alices[i].d.Send(ctx, bobs[i].name, benchBody(n)); err != nil {
					errs <- err
					for range work { // let the feeder finish
					}
					return
				}
			}
		})
	}
	for b.Loop() {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	for i := range pairs {
		waitPairDone(b, alices[i], bobs[i])
	}
	elapsed := time.Since(start)
	total := 0
	for i := range pairs {
		total += int(sent[i].Load())
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(total), "cpu-ns/msg")
	for i := range pairs {
		checkStored(b, bobs[i], alices[i].name, int(sent[i].Load())+1, true)
	}
}

// waitPairDone is waitOutboxEmpty, saying on failure where the first
// undelivered message is: not stored by bob (lost on the way or never
// sent), or stored and its receipt not recorded.
func waitPairDone(b *testing.B, alice, bob *node) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	for {
		ch := alice.d.store.EventNotify()
		p, err := alice.d.store.Pending(ctx, bob.name, 0, 1)
		if err != nil {
			b.Fatalf("%s outbox: %v", alice.name, err)
		}
		if len(p) == 0 {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			_, serr := bob.d.store.Message(context.Background(), alice.name, store.In, p[0].ID)
			b.Fatalf("%s: message seq %d (state %s) for %s undelivered after %v; %s has it: %v; sessions: %s %+v, %s %+v",
				alice.name, p[0].Seq, p[0].State, bob.name, benchWait, bob.name, serr == nil,
				alice.name, alice.d.peers.Sessions(), bob.name, bob.d.peers.Sessions())
		}
	}
}
