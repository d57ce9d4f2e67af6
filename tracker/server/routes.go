package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// handlerFunc is a route handler that reports failure by returning an
// error; serve turns it into the JSON error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.handle(mux, "POST /v1/users", s.handleRegister, true)
	s.handle(mux, lookupPattern, s.handleLookup, true)
	s.handle(mux, "PUT /v1/users/{name}", s.handleUpdate, true)
	s.handle(mux, "DELETE /v1/users/{name}", s.handleDelete, true)
	s.handleOps(mux, "GET /healthz", s.handleHealth)
	s.handle(mux, "/", s.handleNoRoute, true)
	promh := s.metrics.handler()
	s.handleOps(mux, "GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
		promh.ServeHTTP(w, r)
		return nil
	})
	return &router{mux: mux, lookup: s.lookupHandler}
}

// lookupPattern is the lookup route; lookupPrefix its path up to the name.
const (
	lookupPattern = "GET /v1/users/{name}"
	lookupPrefix  = "/v1/users/"
)

// router sends lookups, the hot path, past the mux's pattern matching:
// the mux would route a GET of /v1/users/NAME, NAME plain name
// characters, to the same handler, so skipping it changes nothing but the
// cost. Everything else goes through the mux.
type router struct {
	mux    *http.ServeMux
	lookup http.Handler // the lookup route's wrapped handler
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.RawPath == "" {
		if name, ok := strings.CutPrefix(r.URL.Path, lookupPrefix); ok && plainName(name) {
			rt.lookup.ServeHTTP(w, r)
			return
		}
	}
	rt.mux.ServeHTTP(w, r)
}

// plainName reports whether name is non-empty and made only of the
// characters record.ValidateName allows, none of which a path needs
// escaped or cleaned.
func plainName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// lookupName is the name a lookup asks for: the mux's path value, or,
// when the router bypassed the mux, the rest of the path.
func lookupName(r *http.Request) string {
	if name := r.PathValue("name"); name != "" {
		return name
	}
	return strings.TrimPrefix(r.URL.Path, lookupPrefix)
}

// handle registers h under pattern with metrics, panic recovery, and (when
// limited) the per-source rate limit.
func (s *Server) handle(mux *http.ServeMux, pattern string, h handlerFunc, limited bool) {
	var l *rateLimiter
	if limited {
		l = s.limiter
	}
	s.handleWith(mux, pattern, h, l)
}

// handleOps registers an operator route (/healthz, /metrics) under its own
// per-source limit, so monitoring and the API never spend each other's.
func (s *Server) handleOps(mux *http.ServeMux, pattern string, h handlerFunc) {
	s.handleWith(mux, pattern, h, s.opsLimit)
}

// handleWith is handle with the limiter to apply, or nil for none.
func (s *Server) handleWith(mux *http.ServeMux, pattern string, h handlerFunc, limiter *rateLimiter) {
	route := pattern
	if route == "/" {
		route = "other" // keeps hostile paths out of metric labels
	}
	rm := s.metrics.route(route)
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panic", zap.String("route", route), zap.Any("panic", p), zap.Stack("stack"))
				if sw.status == 0 {
					writeError(sw, newAPIError(http.StatusInternalServerError, CodeInternal, "internal error"))
				}
			}
			rm.observe(sw.status, time.Since(start))
		}()
		if limiter != nil {
			if wait, ok := limiter.allow(s.clientAddr(r).Addr()); !ok {
				s.metrics.rateLimited.Inc()
				sw.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
				writeError(sw, newAPIError(http.StatusTooManyRequests, CodeRateLimited, "too many requests from your address; retry after %d seconds", int(wait.Seconds()+0.999)))
				return
			}
		}
		if err := h(sw, r); err != nil {
			e, clientFault := classify(err)
			if !clientFault {
				s.log.Error("request failed", zap.String("route", route), zap.Error(err))
			}
			writeError(sw, e)
		}
	})
	mux.Handle(pattern, wrapped)
	if pattern == lookupPattern {
		s.lookupHandler = wrapped
	}
}

// statusWriter remembers the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.MaxBytesReader and http.ResponseController reach the
// real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
