package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/tracker/client"
	"github.com/p2pchat/p2pchat/tracker/record"
	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/storeopen"
)

// newClient returns a tracker client whose transport keeps one connection
// per worker alive (the default keeps two, and would open and close
// thousands per second) and refuses to dial anything but loopback.
func newClient(cfg Config) (*client.Client, func()) {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !isLoopbackAddr(addr) {
				return nil, fmt.Errorf("dial %s: %w", addr, ErrNotLoopback)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        cfg.Workers,
		MaxIdleConnsPerHost: cfg.Workers,
		MaxConnsPerHost:     cfg.Workers,
		IdleConnTimeout:     30 * time.Second,
	}
	return client.New(cfg.URL, &http.Client{Transport: tr, Timeout: 30 * time.Second}), tr.CloseIdleConnections
}

// Preload registers users 0..Users-1 with seq 1: over HTTP, or with
// PreloadDSN set, straight into the store. Users already registered (an
// earlier run) show up as name_taken.
func Preload(ctx context.Context, cfg Config, log *zap.Logger) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.PreloadDSN != "" {
		return preloadDirect(ctx, cfg, log)
	}
	c, done := newClient(cfg)
	defer done()
	now := time.Now()
	return run(ctx, "preload", cfg.Users, cfg.Workers, cfg.PreloadDuration, func(ctx context.Context, _, i, _ int) (time.Duration, string) {
		rec, err := cfg.signedRecord(i, 1, now)
		if err != nil {
			return 0, "sign"
		}
		return timed(func() string {
			_, err := c.Register(ctx, rec)
			return classify(err)
		})
	})
}

func preloadDirect(ctx context.Context, cfg Config, log *zap.Logger) (Result, error) {
	st, err := storeopen.Open(ctx, cfg.PreloadDSN, log)
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	now := time.Now()
	return run(ctx, "preload", cfg.Users, cfg.Workers, cfg.PreloadDuration, func(ctx context.Context, _, i, _ int) (time.Duration, string) {
		rec, err := cfg.signedRecord(i, 1, now)
		if err != nil {
			return 0, "sign"
		}
		return timed(func() string {
			return classifyStore(st.Create(ctx, store.Record{
				Name: rec.Name, PublicKey: rec.PublicKey, Addrs: rec.Addrs,
				Seq: rec.Seq, Expires: rec.Expires, Signature: rec.Signature,
			}))
		})
	})
}

// Lookups looks up preloaded users, spread over all of them. Each worker
// keeps one connection (rawConn); with Verify the typed client decodes and
// verifies every record instead.
func Lookups(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	c, done := newClient(cfg)
	defer done()
	conns := make([]*rawConn, cfg.Workers)
	for w := range conns {
		rc, err := newRawConn(cfg.URL)
		if err != nil {
			return Result{}, err
		}
		conns[w] = rc
		defer rc.close()
	}
	lookup := func(ctx context.Context, w int, name string) string {
		return statusClass(conns[w].get(ctx, "/v1/users/"+name))
	}
	if cfg.Verify {
		lookup = func(ctx context.Context, _ int, name string) string {
			_, _, err := c.Lookup(ctx, name)
			return classify(err)
		}
	}
	// A prime stride visits users out of order, so the tracker cannot serve
	// them all from one warm page; it must not divide the user count.
	stride := int64(7919)
	if cfg.Users%7919 == 0 {
		stride = 1
	}
	return run(ctx, "lookups", cfg.Lookups, cfg.Workers, cfg.Duration, func(ctx context.Context, w, i, _ int) (time.Duration, string) {
		name := UserName(cfg.Prefix, int((int64(i)*stride)%int64(cfg.Users)))
		return timed(func() string { return lookup(ctx, w, name) })
	})
}

// Updates re-announces preloaded users with signed records of a higher
// seq. Each worker owns the users equal to its number modulo Workers, so
// two updates of one user never race (a race would rightly fail as a
// stale seq). Seqs start at the wall clock in nanoseconds, above those of
// any earlier run. Every update is signed (and, unless Verify, made into
// its whole HTTP request) before the timed phase: the phase measures the
// tracker, not the generator's Ed25519.
func Updates(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	workers := min(cfg.Workers, cfg.Users)
	cfg.Workers = workers
	recs, err := cfg.signUpdates(ctx, workers)
	if err != nil {
		return Result{}, err
	}
	if cfg.Verify {
		c, done := newClient(cfg)
		defer done()
		cfg.timed("updates")
		return run(ctx, "updates", cfg.Updates, workers, cfg.Duration, func(ctx context.Context, w, _, k int) (time.Duration, string) {
			if k >= len(recs[w]) {
				return 0, exhausted
			}
			return timed(func() string {
				_, err := c.Update(ctx, recs[w][k])
				return classify(err)
			})
		})
	}
	conns := make([]*rawConn, workers)
	reqs := make([][][]byte, workers)
	for w := range conns {
		rc, err := newRawConn(cfg.URL)
		if err != nil {
			return Result{}, err
		}
		conns[w] = rc
		defer rc.close()
		for _, rec := range recs[w] {
			body := append(rec.AppendJSON([]byte(`{"record":`)), '}')
			reqs[w] = append(reqs[w], rawRequest("PUT", "/v1/users/"+rec.Name, rc.host, body))
		}
	}
	cfg.timed("updates")
	return run(ctx, "updates", cfg.Updates, workers, cfg.Duration, func(ctx context.Context, w, _, k int) (time.Duration, string) {
		if k >= len(reqs[w]) {
			return 0, exhausted
		}
		return timed(func() string { return statusClass(conns[w].send(ctx, reqs[w][k])) })
	})
}

// timed tells c.Timed that phase starts its timed part.
func (c Config) timed(phase string) {
	if c.Timed != nil {
		c.Timed(phase)
	}
}

// signUpdates signs each worker's share of cfg.Updates, on every CPU:
// update j = k*workers + w is worker w's k-th, for the k-th of the users
// it owns (w, w+workers, ...) in turn, at seq base+j.
func (c Config) signUpdates(ctx context.Context, workers int) ([][]record.Signed, error) {
	flat, err := c.signEach(ctx, c.Updates, uint64(time.Now().UnixNano()), func(j int) int {
		w, k := j%workers, j/workers
		owned := (c.Users - w + workers - 1) / workers
		return w + workers*(k%owned)
	})
	if err != nil {
		return nil, err
	}
	recs := make([][]record.Signed, workers)
	for j, rec := range flat {
		recs[j%workers] = append(recs[j%workers], rec)
	}
	return recs, nil
}

// signEach signs n updates on every CPU: update j for user userOf(j) at
// seq base+j.
func (c Config) signEach(ctx context.Context, n int, base uint64, userOf func(j int) int) ([]record.Signed, error) {
	now := time.Now()
	recs := make([]record.Signed, n)
	procs := runtime.GOMAXPROCS(0)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			for j := p; j < n && ctx.Err() == nil; j += procs {
				rec, err := c.signedRecord(userOf(j), base+uint64(j), now)
				if err != nil {
					errs[p] = err
					return
				}
				recs[j] = rec
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, fmt.Errorf("sign updates: %w", err)
	}
	return recs, nil
}

// classify names an error from tracker/client by the tracker's error code.
func classify(err error) string {
	if err == nil {
		return ""
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		if apiErr.Code != "" {
			return apiErr.Code
		}
		return fmt.Sprintf("http_%d", apiErr.Status)
	}
	if errors.Is(err, client.ErrBadRecord) {
		return "bad_record"
	}
	return "transport"
}

// classifyStore names a store error like the tracker would.
func classifyStore(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, store.ErrExists):
		return "name_taken"
	case errors.Is(err, store.ErrStaleSeq):
		return "stale_seq"
	case errors.Is(err, store.ErrInvalidRecord):
		return "bad_record"
	}
	return "store"
}
