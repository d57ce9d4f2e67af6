package store

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func openBench(b *testing.B, name string) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), name), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

var benchBody = []byte("a typical chat message of about sixty bytes, give or take...")

func reportRate(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

// cpuTime is the CPU time (user+system) the process has used. Per message
// it is a steadier figure than wall time on a machine shared with other
// work, where msgs/s mostly measures how much CPU the benchmark was given.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration, msgs int) {
	b.ReportMetric(float64((cpuTime()-since).Nanoseconds())/float64(msgs), "cpu-ns/msg")
}

func reportP50(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkEnqueue is one caller at a time: ns/op is the latency of a lone
// message from call to commit.
func BenchmarkEnqueue(b *testing.B) {
	s := openBench(b, "e.db")
	ctx := b.Context()
	lat := make([]time.Duration, 0, b.N)
	cpu := cpuTime()
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Enqueue(ctx, "bob", benchBody, t0); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportRate(b, b.N)
	reportCPU(b, cpu, b.N)
	reportP50(b, lat)
}

// BenchmarkEnqueueParallel is many concurrent callers, coalesced by group
// commit.
func BenchmarkEnqueueParallel(b *testing.B) {
	s := openBench(b, "ep.db")
	ctx := b.Context()
	var (
		mu  sync.Mutex
		all []time.Duration
		n   atomic.Int64
	)
	b.SetParallelism(16)
	cpu := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if _, err := s.Enqueue(ctx, "bob", benchBody, t0); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(t0))
			n.Add(1)
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	reportRate(b, int(n.Load()))
	reportCPU(b, cpu, int(n.Load()))
	reportP50(b, all)
	st := s.Stats()
	if st.EnqueueBatches > 0 {
		b.ReportMetric(float64(st.EnqueueRequests)/float64(st.EnqueueBatches), "msgs/commit")
	}
}

// benchIncoming returns a batch of n messages whose IDs are unique across
// calls (a counter, cheaper than crypto/rand inside the timed loop).
func benchIncoming(n int, counter *uint64) []Message {
	msgs := make([]Message, n)
	now := time.Now()
	for i := range msgs {
		*counter++
		binary.BigEndian.PutUint64(msgs[i].ID[8:], *counter)
		msgs[i].Body, msgs[i].SentAt = benchBody, now
	}
	return msgs
}

func BenchmarkReceiveBatch256(b *testing.B) {
	s := openBench(b, "r.db")
	ctx := b.Context()
	var ctr uint64
	cpu := cpuTime()
	for b.Loop() {
		if _, err := s.Receive(ctx, "alice", benchIncoming(256, &ctr)); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N*256)
	reportCPU(b, cpu, b.N*256)
}

func BenchmarkMarkDelivered(b *testing.B) {
	s := openBench(b, "d.db")
	ctx := b.Context()
	batch := make([][]byte, 256)
	for i := range batch {
		batch[i] = benchBody
	}
	for b.Loop() {
		b.StopTimer()
		msgs, err := s.EnqueueBatch(ctx, "bob", batch, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.MarkDelivered(ctx, "bob", ids(msgs)); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N*256)
}

// BenchmarkPairPipeline runs the store side of one conversation between
// two daemons, 256 messages per op: the sender queues, reads its outbox and
// marks the batch sent, the receiver stores it, the sender records the
// acknowledgement. msgs/s is the store's ceiling for one pair on this host
// (both stores share its CPUs here).
func BenchmarkPairPipeline(b *testing.B) {
	alice, bob := openBench(b, "alice.db"), openBench(b, "bob.db")
	ctx := b.Context()
	batch := make([][]byte, 256)
	for i := range batch {
		batch[i] = benchBody
	}
	var cursor int64
	cpu := cpuTime()
	for b.Loop() {
		if _, err := alice.EnqueueBatch(ctx, "bob", batch, time.Now()); err != nil {
			b.Fatal(err)
		}
		out, err := alice.Pending(ctx, "bob", cursor, len(batch))
		if err != nil || len(out) != len(batch) {
			b.Fatalf("pending %d, %v", len(out), err)
		}
		cursor = out[len(out)-1].Seq
		if err := alice.MarkSent(ctx, "bob", ids(out)); err != nil {
			b.Fatal(err)
		}
		if _, err := bob.Receive(ctx, "alice", out); err != nil {
			b.Fatal(err)
		}
		if _, err := alice.MarkDelivered(ctx, "bob", ids(out)); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N*256)
	reportCPU(b, cpu, b.N*256)
}
