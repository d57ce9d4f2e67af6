package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one phase measured.
type Result struct {
	Phase   string           `json:"phase"`
	OK      int64            `json:"ok"`
	Errors  map[string]int64 `json:"errors,omitempty"` // by tracker error code, "transport", ...
	Elapsed time.Duration    `json:"elapsed_ns"`
	Latency Latency          `json:"latency"` // of every completed request, failed ones too
}

// Latency percentiles.
type Latency struct {
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// PerSecond is the rate of successful operations.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	var errs []string
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		errs = append(errs, fmt.Sprintf("%s=%d", k, r.Errors[k]))
	}
	e := "none"
	if len(errs) > 0 {
		e = strings.Join(errs, " ")
	}
	l := r.Latency
	return fmt.Sprintf("%-8s %9d ok in %7.2fs = %9.0f/s   p50 %-9v p90 %-9v p99 %-9v max %-9v errors: %s",
		r.Phase, r.OK, r.Elapsed.Seconds(), r.PerSecond(),
		round(l.P50), round(l.P90), round(l.P99), round(l.Max), e)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// Percentiles of samples (which it sorts in place).
func Percentiles(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(p float64) time.Duration {
		i := int(p*float64(len(samples))+0.5) - 1 // nearest rank
		return samples[max(0, min(i, len(samples)-1))]
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: samples[len(samples)-1]}
}

// op is one request. i numbers the request within the phase (0, 1, ...),
// k within its worker. It returns how long the request itself took (not
// the signing before it) and its error class ("" for success).
type op func(ctx context.Context, worker, i, k int) (time.Duration, string)

// exhausted is the class of an op that had no request left to send: its
// worker stops, and it is not counted.
const exhausted = "\x00exhausted"

// timed runs a request and classifies its error.
func timed(req func() string) (time.Duration, string) {
	t0 := time.Now()
	class := req()
	return time.Since(t0), class
}

// abortAfterRateLimits stops a phase once the tracker has refused this
// many requests for rate: the numbers would measure the limiter.
const abortAfterRateLimits = 100

// ErrRateLimited means the tracker throttled the load generator.
var ErrRateLimited = errors.New("the tracker rate-limits 127.0.0.1; for a load test set rate_limit and rate_burst very high in tracker.toml")

// run has workers goroutines call do until limit requests are done, dur has
// passed or ctx ends. Requests in flight at the deadline finish and count.
func run(ctx context.Context, phase string, limit, workers int, dur time.Duration, do op) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var issued, rateLimited atomic.Int64
	samples := make([][]time.Duration, workers)
	errs := make([]map[string]int64, workers)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for w := range workers {
		errs[w] = map[string]int64{}
		wg.Go(func() {
			for k := 0; ; k++ {
				i := int(issued.Add(1) - 1)
				if i >= limit || ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				lat, class := do(ctx, w, i, k)
				if class == exhausted {
					issued.Add(-1) // give the slot to a worker with work left
					return
				}
				if ctx.Err() != nil {
					return // interrupted, not measured
				}
				samples[w] = append(samples[w], lat)
				if class != "" {
					errs[w][class]++
					if class == "rate_limited" && rateLimited.Add(1) >= abortAfterRateLimits {
						cancel()
					}
				}
			}
		})
	}
	wg.Wait()
	res := Result{Phase: phase, Elapsed: time.Since(start), Errors: map[string]int64{}}
	var all []time.Duration
	for w := range workers {
		all = append(all, samples[w]...)
		for k, n := range errs[w] {
			res.Errors[k] += n
		}
	}
	var failed int64
	for _, n := range res.Errors {
		failed += n
	}
	res.OK = int64(len(all)) - failed
	res.Latency = Percentiles(all)
	if rateLimited.Load() >= abortAfterRateLimits {
		return res, fmt.Errorf("%s: stopped after %d rate-limited requests: %w", phase, rateLimited.Load(), ErrRateLimited)
	}
	return res, ctx.Err()
}
