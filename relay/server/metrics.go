package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Refusal reasons, the values of relay_refusals_total's reason label. The
// four limits are also the detail of a "limit" error frame.
const (
	LimitReservationsPerSource = "reservations_per_source"
	LimitSessionsPerTarget     = "sessions_per_target"
	LimitSessionsPerSource     = "sessions_per_source"
	LimitMaxSessions           = "max_sessions"
	// The handshake bounds close a connection before its TLS handshake,
	// with no error frame.
	LimitHandshakesPerSource = "handshakes_per_source"
	LimitMaxHandshakes       = "max_handshakes"

	RefusedNoReservation    = "no_reservation"
	RefusedJoinTimeout      = "join_timeout"
	RefusedHandshakeTimeout = "handshake_timeout"
	RefusedAuth             = "auth"
	RefusedUnknownToken     = "unknown_token"
	RefusedBadRequest       = "bad_request"
	RefusedTLS              = "tls"         // a TLS handshake that failed (a wrong relay key on the client's side, a bad certificate, no ALPN)
	RefusedOldVersion       = "old_version" // a client of protocol version 1, in the clear
)

// Session end reasons, the values of relay_session_ends_total's label.
const (
	EndClosed   = "closed"   // both sides closed (half-close propagated)
	EndError    = "error"    // a read or write failed; the other side was cut
	EndIdle     = "idle"     // nothing moved for IdleTimeout
	EndShutdown = "shutdown" // the relay stopped
)

// metrics live in the server's own registry, so two servers in one process
// (tests) never collide.
type metrics struct {
	reg          *prometheus.Registry
	reservations prometheus.Gauge
	pending      prometheus.Gauge
	active       prometheus.Gauge
	total        prometheus.Counter
	bytes        prometheus.Counter
	refusals     *prometheus.CounterVec
	ends         *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		reservations: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relay_reservations_active",
			Help: "Reservations held (authenticated control connections)."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relay_joins_pending",
			Help: "Callers waiting for their target to accept."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relay_sessions_active",
			Help: "Joined sessions whose bytes are being relayed."}),
		total: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_sessions_total",
			Help: "Sessions joined since start."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_bytes_relayed_total",
			Help: "Bytes received from either side of joined sessions (counted every idle check and at the end)."}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_refusals_total",
			Help: "Connections refused, by reason (a limit's name, no_reservation, join_timeout, handshake_timeout, tls, old_version, auth, unknown_token, bad_request)."},
			[]string{"reason"}),
		ends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_session_ends_total",
			Help: "Joined sessions ended, by reason (closed, error, idle, shutdown)."}, []string{"reason"}),
	}
	for _, r := range []string{LimitReservationsPerSource, LimitSessionsPerTarget, LimitSessionsPerSource,
		LimitMaxSessions, LimitHandshakesPerSource, LimitMaxHandshakes, RefusedNoReservation, RefusedJoinTimeout, RefusedHandshakeTimeout, RefusedTLS,
		RefusedOldVersion, RefusedAuth, RefusedUnknownToken, RefusedBadRequest} {
		m.refusals.WithLabelValues(r)
	}
	for _, r := range []string{EndClosed, EndError, EndIdle, EndShutdown} {
		m.ends.WithLabelValues(r)
	}
	m.reg.MustRegister(m.reservations, m.pending, m.active, m.total, m.bytes, m.refusals, m.ends,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics (Prometheus text) and /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return mux
}
