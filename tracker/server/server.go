// Package server is the tracker's HTTP+JSON API: users register a signed
// record under a name, others look it up, and only the registered key can
// update, rotate or delete it. Records are self-certifying (see package
// record), so the server checks signatures and ordering but clients check
// signatures again themselves.
//
// Routes (every body JSON, every error {"error": "...", "code": "..."}):
//
//	POST   /v1/users          register a record.Signed              → 201
//	GET    /v1/users/{name}   look up                               → 200, 404 not_found, 410 expired
//	PUT    /v1/users/{name}   {"record": ..., "rotation_signature"} → 200
//	DELETE /v1/users/{name}   {"public_key", "seq", "signature"}    → 204
//	GET    /healthz           store reachable                       → 200 / 503
//	GET    /metrics           Prometheus metrics (own registry)
//
// Register, lookup and update answer {"record", "observed_addr",
// "reannounce_after"}: observed_addr is the address the request came from
// (how chatd learns its NAT mapping), reannounce_after the seconds until the
// caller should announce (or, after a lookup, look up) again.
//
// A register or update with ?check=dialback also answers "dialback":
// "reachable", "unreachable" or "skipped": whether the tracker could open a
// TCP connection back to observed_addr (and only there), which tells chatd
// whether peers can dial it directly. See dialback.go for the limits.
//
// Names are first come, first served. A record that expires keeps its name
// (lookups answer 410 with the record, and its owner may refresh it) until
// it has been expired for PurgeGrace; deleted names keep a tombstone for
// as long, so that a replayed old registration cannot resurrect them.
//
// Use it as
//
//	srv, err := server.New(cfg, st, log) // st: a store.Store the caller closes
//	err = srv.Serve(ctx, ln)             // until ctx is cancelled, then a graceful shutdown
//
// or mount srv.Handler() in your own http.Server and run srv.RunPurge(ctx).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/internal/defaults"
	"github.com/p2pchat/p2pchat/tracker/server/internal/recordcache"
	"github.com/p2pchat/p2pchat/tracker/store"
)

// Config tunes the server. Zero fields take the defaults in DefaultConfig.
type Config struct {
	// MaxTTL bounds how far ahead a record's expiry may be.
	MaxTTL time.Duration
	// ReannounceFraction of a record's remaining lifetime is what
	// reannounce_after says, clamped to [ReannounceMin, ReannounceMax].
	ReannounceFraction float64
	ReannounceMin      time.Duration
	ReannounceMax      time.Duration
	// PurgeGrace is how long an expired record (or a deletion tombstone)
	// keeps its name before the purge loop frees it; PurgeInterval how
	// often the loop runs.
	PurgeGrace    time.Duration
	PurgeInterval time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For header is believed.
	TrustedProxies []netip.Prefix
	// RateLimit is the sustained requests per second allowed per source
	// (an IPv4 address or an IPv6 /64), RateBurst the burst, and
	// RateLimitSources how many sources are tracked at once.
	RateLimit        float64
	RateBurst        int
	RateLimitSources int
	// OpsRateLimit and OpsRateBurst limit /healthz and /metrics per source,
	// with their own budget so a monitor never spends the API's.
	OpsRateLimit float64
	OpsRateBurst int
	// CountTTL is how long /healthz and /metrics reuse a count of the
	// records before counting again.
	CountTTL time.Duration
	// CacheBytes bounds the lookup cache, which keeps records' encoded
	// JSON ready (about 270 bytes a record, entries and index, held
	// outside the Go heap); negative turns it off. The store must be a
	// store.Watcher (both backends are) for the cache to be used.
	CacheBytes int64
	// CacheMaxLag is how far behind the database the store's reports of
	// other processes' writes may be while the cache answers; beyond it
	// (a lost PostgreSQL connection) lookups read the store. A record is
	// never served staler than this after another tracker's update.
	CacheMaxLag time.Duration
	// MaxBodyBytes limits request bodies (413 beyond).
	MaxBodyBytes int64
	// Dial-backs (see dialback.go): DialbackTimeout bounds each attempt to
	// connect to a caller's observed address; DisableDialback turns them
	// off (every request for one is answered "skipped"). DialbackRate (per
	// second) and DialbackBurst limit them per source (as RateLimit does),
	// DialbackGlobalRate and DialbackGlobalBurst in all, and
	// DialbackMaxInFlight bounds how many run at once.
	DialbackTimeout     time.Duration
	DisableDialback     bool
	DialbackRate        float64
	DialbackBurst       int
	DialbackGlobalRate  float64
	DialbackGlobalBurst int
	DialbackMaxInFlight int
	// http.Server limits.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	MaxHeaderBytes    int
	// TLS, when set, makes Serve speak HTTPS.
	TLS *tls.Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultCacheBytes holds a million records in the lookup cache with room
// to spare.
const DefaultCacheBytes = 320 << 20

// DefaultConfig returns the defaults every zero Config field gets.
func DefaultConfig() Config {
	return Config{
		MaxTTL:             24 * time.Hour,
		ReannounceFraction: 1.0 / 3,
		ReannounceMin:      30 * time.Second,
		ReannounceMax:      time.Hour,
		PurgeGrace:         30 * 24 * time.Hour,
		PurgeInterval:      time.Hour,
		RateLimit:          5,
		RateBurst:          20,
		RateLimitSources:   10000,
		OpsRateLimit:       2,
		OpsRateBurst:       10,
		CountTTL:           15 * time.Second,
		CacheBytes:         DefaultCacheBytes,
		CacheMaxLag:        750 * time.Millisecond,
		MaxBodyBytes:       8 << 10,
		// One dial-back every 10 s per source (burst 6) leaves room for a
		// household of daemons behind one address, each checking on its
		// first announce and every few minutes after.
		DialbackTimeout:     1500 * time.Millisecond,
		DialbackRate:        0.1,
		DialbackBurst:       6,
		DialbackGlobalRate:  100,
		DialbackGlobalBurst: 200,
		DialbackMaxInFlight: 256,
		ReadHeaderTimeout:   5 * time.Second,
		ReadTimeout:         10 * time.Second,
		WriteTimeout:        10 * time.Second,
		IdleTimeout:         60 * time.Second,
		ShutdownTimeout:     10 * time.Second,
		MaxHeaderBytes:      8 << 10,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	defaults.Set(&c.MaxTTL, d.MaxTTL)
	if c.ReannounceFraction <= 0 || c.ReannounceFraction > 1 {
		c.ReannounceFraction = d.ReannounceFraction
	}
	defaults.Set(&c.ReannounceMin, d.ReannounceMin)
	defaults.Set(&c.ReannounceMax, d.ReannounceMax)
	defaults.Set(&c.PurgeGrace, d.PurgeGrace)
	defaults.Set(&c.PurgeInterval, d.PurgeInterval)
	defaults.Set(&c.RateLimit, d.RateLimit)
	defaults.Set(&c.RateBurst, d.RateBurst)
	defaults.Set(&c.RateLimitSources, d.RateLimitSources)
	defaults.Set(&c.OpsRateLimit, d.OpsRateLimit)
	defaults.Set(&c.OpsRateBurst, d.OpsRateBurst)
	defaults.Set(&c.CountTTL, d.CountTTL)
	defaults.Set(&c.CacheBytes, d.CacheBytes)
	defaults.Set(&c.CacheMaxLag, d.CacheMaxLag)
	defaults.Set(&c.MaxBodyBytes, d.MaxBodyBytes)
	defaults.Set(&c.DialbackTimeout, d.DialbackTimeout)
	defaults.Set(&c.DialbackRate, d.DialbackRate)
	defaults.Set(&c.DialbackBurst, d.DialbackBurst)
	defaults.Set(&c.DialbackGlobalRate, d.DialbackGlobalRate)
	defaults.Set(&c.DialbackGlobalBurst, d.DialbackGlobalBurst)
	defaults.Set(&c.DialbackMaxInFlight, d.DialbackMaxInFlight)
	defaults.Set(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	defaults.Set(&c.ReadTimeout, d.ReadTimeout)
	defaults.Set(&c.WriteTimeout, d.WriteTimeout)
	defaults.Set(&c.IdleTimeout, d.IdleTimeout)
	defaults.Set(&c.ShutdownTimeout, d.ShutdownTimeout)
	defaults.Set(&c.MaxHeaderBytes, d.MaxHeaderBytes)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Server serves the tracker API over one store. It does not own the store:
// the caller closes it after Serve returns.
type Server struct {
	cfg      Config
	store    store.Store
	log      *zap.Logger
	limiter  *rateLimiter
	opsLimit *rateLimiter // /healthz and /metrics
	counts   *countCache
	dialback *dialbacker
	metrics  *metrics
	handler  http.Handler
	// lookupHandler is the lookup route's handler, wrapped, for the
	// router's shortcut (routes.go).
	lookupHandler http.Handler
	// cache keeps lookup answers (lookup.go); nil when off or when the
	// store cannot report changes. watcher is the store, reporting them.
	cache   *recordcache.Cache
	watcher store.Watcher
}

// New returns a server over st.
func New(cfg Config, st store.Store, log *zap.Logger) (*Server, error) {
	if st == nil {
		return nil, errors.New("new tracker server: nil store")
	}
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	if cfg.ReannounceMin > cfg.ReannounceMax {
		return nil, fmt.Errorf("new tracker server: reannounce min %v is above max %v", cfg.ReannounceMin, cfg.ReannounceMax)
	}
	s := &Server{
		cfg:     cfg,
		store:   st,
		log:     log,
		limiter: newRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.RateLimitSources, cfg.Now),
	}
	s.opsLimit = newRateLimiter(cfg.OpsRateLimit, cfg.OpsRateBurst, cfg.RateLimitSources, cfg.Now)

	s.counts = &countCache{st: st, ttl: cfg.CountTTL, now: cfg.Now}
	s.metrics = newMetrics(s.counts)
	if w, ok := st.(store.Watcher); ok && cfg.CacheBytes > 0 {
		// The store reports every change for as long as it is open.
		s.cache, s.watcher = recordcache.New(cfg.CacheBytes), w
		w.Watch(cacheKeeper{s.cache})
		s.metrics.watchCache(s.cache)
	}
	s.dialback = newDialbacker(cfg, log.Named("dialback"), s.metrics)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the API handler, for mounting in another server or
// httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers requests on ln and runs the purge loop until ctx is
// cancelled (and, at the start, fills the lookup cache from the store), then shuts down gracefully (waiting up to ShutdownTimeout for
// requests in flight) and returns nil. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.RunPurge(ctx) })
	wg.Go(func() { s.warmCache(ctx) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	s.log.Info("tracker serving", zap.Stringer("addr", ln.Addr()), zap.Bool("tls", s.cfg.TLS != nil))

	var err error
	select {
	case err = <-serveErr:
		err = fmt.Errorf("serve tracker on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
		err = s.shutdown(hs, serveErr)
	}
	cancel()
	wg.Wait()
	return err
}

func (s *Server) shutdown(hs *http.Server, serveErr <-chan error) error {
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if e := <-serveErr; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	if err != nil {
		hs.Close()
		return fmt.Errorf("shut down tracker: %w", err)
	}
	s.log.Info("tracker stopped")
	return nil
}
