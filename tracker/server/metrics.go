package server

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p2pchat/p2pchat/tracker/server/internal/recordcache"
)

// metrics lives in the server's own registry, so two servers in one process
// (tests) never collide and nothing leaks into the global registry.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	rateLimited prometheus.Counter
	// dialbacks counts dial-backs by outcome (see dialback.go);
	// dialbacksInFlight is how many are connecting now.
	dialbacks         *prometheus.CounterVec
	dialbacksInFlight prometheus.Gauge
}

func newMetrics(counts *countCache) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracker_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tracker_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tracker_rate_limited_total",
			Help: "Requests refused with 429 by the per-source rate limit.",
		}),
		dialbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracker_dialbacks_total",
			Help: "Dial-backs to a caller's observed address by outcome: reachable, unreachable, cancelled, or skipped as disabled, no_address, rate_limited, global_limited, busy.",
		}, []string{"outcome"}),
		dialbacksInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tracker_dialbacks_in_flight",
			Help: "Dial-backs connecting now.",
		}),
	}
	records := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tracker_records",
		Help: "Live (not deleted) records in the store, expired ones included, counted at most once per count_ttl; NaN if the store is unreachable.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := counts.get(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	})
	m.reg.MustRegister(m.requests, m.latency, m.rateLimited, m.dialbacks, m.dialbacksInFlight, records,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watchCache adds the lookup cache's size to the metrics.
func (m *metrics) watchCache(c *recordcache.Cache) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tracker_lookup_cache_records",
			Help: "Records whose lookup answers the cache holds.",
		}, func() float64 { return float64(c.Stats().Entries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tracker_lookup_cache_bytes",
			Help: "Bytes the lookup cache holds against its budget (lookup_cache_mb), entries and index.",
		}, func() float64 { return float64(c.Stats().Bytes) }),
	)
}

// routeMetrics are one route's series, looked up once: a request then
// costs an array index and two atomic adds, not a hash of its labels.
type routeMetrics struct {
	route    string
	requests *prometheus.CounterVec
	latency  prometheus.Observer
	codes    [600]atomic.Pointer[prometheus.Counter] // by status code
}

func (m *metrics) route(route string) *routeMetrics {
	return &routeMetrics{route: route, requests: m.requests, latency: m.latency.WithLabelValues(route)}
}

func (rm *routeMetrics) observe(status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	rm.counter(status).Inc()
	rm.latency.Observe(d.Seconds())
}

func (rm *routeMetrics) counter(status int) prometheus.Counter {
	if status < 0 || status >= len(rm.codes) {
		return rm.requests.WithLabelValues(rm.route, strconv.Itoa(status))
	}
	if c := rm.codes[status].Load(); c != nil {
		return *c
	}
	c := rm.requests.WithLabelValues(rm.route, strconv.Itoa(status))
	rm.codes[status].Store(&c)
	return c
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
