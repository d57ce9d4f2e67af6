package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"time"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Backend is what the daemon core offers the control API. Methods return
// *api.Error for user errors (unknown user, no such contact, ...).
type Backend interface {
	Status(ctx context.Context) (api.Status, error)
	// Send enqueues a message and returns it in state queued.
	Send(ctx context.Context, to, body string) (api.Message, error)
	// Message returns one message by peer and ID (for polling its state).
	Message(ctx context.Context, peer, id string) (api.Message, error)
	// History returns up to limit messages with peer whose Seq is below
	// beforeSeq (all if beforeSeq is 0), oldest first.
	History(ctx context.Context, peer string, limit int, beforeSeq int64) ([]api.Message, error)
	Contacts(ctx context.Context) ([]api.Contact, error)
	// AddContact looks the name up on the tracker and pins its key.
	AddContact(ctx context.Context, name string) (api.Contact, error)
	VerifyContact(ctx context.Context, name, fingerprint string) (api.Contact, error)
	RemoveContact(ctx context.Context, name string) error
	// Requests lists what strangers sent; AcceptRequest pins the sender
	// and moves its messages into the history; DeclineRequest deletes it.
	Requests(ctx context.Context) ([]api.Request, error)
	AcceptRequest(ctx context.Context, name string) (api.Contact, error)
	DeclineRequest(ctx context.Context, name string) error
	// Block puts name's key on the block list; Unblock takes one off, by
	// the name it was blocked under or its fingerprint.
	Block(ctx context.Context, name string) (api.Blocked, error)
	Unblock(ctx context.Context, who string) error
	BlockList(ctx context.Context) ([]api.Blocked, error)
	// Events returns up to limit committed events with ID > after, in
	// ascending ID order.
	Events(ctx context.Context, after int64, limit int) ([]api.Event, error)
	// WaitEvents blocks until an event with ID > after may exist, or ctx
	// is done (then it returns ctx.Err()).
	WaitEvents(ctx context.Context, after int64) error
}

// shutdownGrace bounds how long Serve waits for in-flight requests after
// its context is cancelled.
const shutdownGrace = 5 * time.Second

// Server serves the control API. Set the fields, then call Serve; a Server
// serves one listener at a time.
type Server struct {
	Backend Backend
	Log     *zap.Logger // nil means no logging
	// UID is the only user allowed to connect (normally os.Getuid()).
	UID int
	// Heartbeat is the event stream's keepalive interval; 0 means
	// api.HeartbeatInterval.
	Heartbeat time.Duration
	// Version is sent in every response's api.HeaderVersion.
	Version string
}

// Serve answers requests on ln until ctx is cancelled, then shuts down:
// event streams end, in-flight requests get a short grace period, ln is
// closed. It returns nil after a cancellation and the listener's error
// otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler(),
		ConnContext:       connContext,
		BaseContext:       func(net.Listener) context.Context { return ctx }, // ends streams on shutdown
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(s.log().Named("http")),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve control socket: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		s.log().Warn("control server shutdown", zap.Error(err))
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve control socket: %w", err)
	}
	return nil
}

func (s *Server) log() *zap.Logger {
	if s.Log == nil {
		return zap.NewNop()
	}
	return s.Log
}

func (s *Server) heartbeat() time.Duration {
	if s.Heartbeat <= 0 {
		return api.HeartbeatInterval
	}
	return s.Heartbeat
}

// handler routes each endpoint to its serveX method behind the access check.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathStatus, s.serveStatus)
	mux.HandleFunc("POST "+api.PathSend, s.serveSend)
	mux.HandleFunc("GET /v1/messages/{peer}/{id}", s.serveMessage)
	mux.HandleFunc("GET /v1/history/{peer}", s.serveHistory)
	mux.HandleFunc("GET "+api.PathContacts, s.serveContacts)
	mux.HandleFunc("POST "+api.PathContacts, s.serveAddContact)
	mux.HandleFunc("DELETE /v1/contacts/{name}", s.serveRemoveContact)
	mux.HandleFunc("POST /v1/contacts/{name}/verify", s.serveVerifyContact)
	mux.HandleFunc("GET "+api.PathRequests, s.serveRequests)
	mux.HandleFunc("POST /v1/requests/{name}/accept", s.serveAcceptRequest)
	mux.HandleFunc("DELETE /v1/requests/{name}", s.serveDeclineRequest)
	mux.HandleFunc("GET "+api.PathBlocked, s.serveBlockList)
	mux.HandleFunc("POST "+api.PathBlocked, s.serveBlock)
	mux.HandleFunc("DELETE /v1/blocked/{who}", s.serveUnblock)
	mux.HandleFunc("GET "+api.PathEvents, s.serveEvents)
	mux.HandleFunc("POST "+api.PathInit, s.serveInit)
	mux.HandleFunc("DELETE "+api.PathRegistration, s.serveUnregister)
	mux.HandleFunc("/", s.serveUnknown)
	return s.checkAccess(s.refuseUnclean(mux))
}

// refuseUnclean answers a path with ".", ".." or "//" in it with a JSON
// bad_request. ServeMux would answer it before any handler, with a
// redirect to the clean path and an HTML body: not the API's error
// format, and a client that follows it sends its request elsewhere.
func (s *Server) refuseUnclean(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p != cleanPath(p) {
			s.writeError(w, r, &api.Error{Code: api.CodeBadRequest,
				Message: fmt.Sprintf("request path %q is not in clean form (it has \".\", \"..\" or \"//\")", p),
				Hint:    "send the path without such segments, e.g. " + api.PathStatus})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is the form ServeMux redirects to: path.Clean, rooted, a
// trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// checkAccess refuses callers that are not the daemon's user, requests
// that a browser made (they carry Origin or Referer) and requests for any
// host but api.Host — the rules of Tailscale's localapi. Every answer
// carries chatd's version.
func (s *Server) checkAccess(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderVersion, s.Version)
		cred, err := peerCred(r.Context())
		if err != nil {
			s.log().Warn("control request without peer credentials", zap.Error(err))
			s.writeError(w, r, &api.Error{Code: api.CodeForbidden, Message: "cannot identify the caller"})
			return
		}
		if int(cred.Uid) != s.UID {
			s.log().Warn("control request from another user refused", zap.Uint32("uid", cred.Uid), zap.Int32("pid", cred.Pid))
			s.writeError(w, r, &api.Error{Code: api.CodeForbidden,
				Message: fmt.Sprintf("uid %d may not use this chatd (it belongs to uid %d)", cred.Uid, s.UID),
				Hint:    "run chatctl as the user that runs chatd"})
			return
		}
		if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
			s.writeError(w, r, &api.Error{Code: api.CodeForbidden, Message: "browser requests are not allowed"})
			return
		}
		if r.Host != api.Host {
			s.writeError(w, r, &api.Error{Code: api.CodeForbidden,
				Message: fmt.Sprintf("requests for host %q are not allowed", r.Host),
				Hint:    "address the socket as http://" + api.Host + "/"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
