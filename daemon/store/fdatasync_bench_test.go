package store

import (
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkFdatasync is the disk's baseline for the latency target: the
// cost of making one small write durable, as a synced commit must. It
// overwrites one of 16 pages of a small file (a WAL's tail) and
// fdatasyncs it, in the file system of P2PCHAT_BENCH_DIR (chatd's data
// directory; a temporary directory if unset), and reports p50, p99 and
// p999 in µs and the CPU time per sync (the kernel's share of a sync is
// the process's system time).
//
//	P2PCHAT_BENCH_DIR=~/.local/share/chatd go test -run '^$' -bench Fdatasync ./daemon/store
func BenchmarkFdatasync(b *testing.B) {
	dir := os.Getenv("P2PCHAT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	f, err := os.CreateTemp(dir, "fdatasync-bench")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	for i := range 16 { // the file exists at its size: what is timed is the data
		if _, err := f.WriteAt(page, int64(i)*4096); err != nil {
			b.Fatal(err)
		}
	}
	if err := unix.Fsync(int(f.Fd())); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		page[0] = byte(i)
		t0 := time.Now()
		if _, err := f.WriteAt(page, int64(i%16)*4096); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/sync")
	slices.Sort(lat)
	for _, p := range []struct {
		name string
		q    int // per mille
	}{{"p50", 500}, {"p99", 990}, {"p999", 999}} {
		b.ReportMetric(float64(lat[(len(lat)-1)*p.q/1000].Nanoseconds())/1e3, "sync-"+p.name+"-µs")
	}
}
