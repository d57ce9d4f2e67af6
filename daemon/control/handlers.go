package control

import (
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/p2pchat/p2pchat/ctl/api"
)

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.Backend.Status(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, st)
}

func (s *Server) serveSend(w http.ResponseWriter, r *http.Request) {
	var req api.SendRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkSend(req); err != nil {
		s.writeError(w, r, err)
		return
	}
	msg, err := s.Backend.Send(r.Context(), req.To, req.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, msg)
}

func checkSend(req api.SendRequest) error {
	switch {
	case req.To == "":
		return badRequest("no recipient")
	case req.Body == "":
		return badRequest("empty message")
	case len(req.Body) > api.MaxBodyBytes:
		return &api.Error{Code: api.CodeTooLarge,
			Message: fmt.Sprintf("message is %d bytes, the limit is %d", len(req.Body), api.MaxBodyBytes),
			Hint:    "split it into several messages"}
	case !utf8.ValidString(req.Body):
		return badRequest("message is not valid UTF-8")
	}
	return nil
}

func (s *Server) serveMessage(w http.ResponseWriter, r *http.Request) {
	msg, err := s.Backend.Message(r.Context(), r.PathValue("peer"), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, msg)
}

func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request) {
	limit, before, err := historyParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msgs, err := s.Backend.History(r.Context(), r.PathValue("peer"), limit, before)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if msgs == nil {
		msgs = []api.Message{} // an empty conversation is [], not null
	}
	s.writeJSON(w, http.StatusOK, msgs)
}

func historyParams(r *http.Request) (limit int, before int64, err error) {
	q := r.URL.Query()
	limit = api.DefaultHistoryPage
	if v := q.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 {
			return 0, 0, badRequest("limit %q is not a positive number", v)
		}
		limit = min(limit, api.MaxHistoryPage)
	}
	if v := q.Get("before"); v != "" {
		before, err = strconv.ParseInt(v, 10, 64)
		if err != nil || before < 0 {
			return 0, 0, badRequest("before %q is not a message sequence number", v)
		}
	}
	return limit, before, nil
}

func (s *Server) serveContacts(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Backend.Contacts(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if cs == nil {
		cs = []api.Contact{}
	}
	s.writeJSON(w, http.StatusOK, cs)
}

func (s *Server) serveAddContact(w http.ResponseWriter, r *http.Request) {
	var req api.AddContactRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name == "" {
		s.writeError(w, r, badRequest("no contact name"))
		return
	}
	c, err := s.Backend.AddContact(r.Context(), req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, c)
}

func (s *Server) serveRemoveContact(w http.ResponseWriter, r *http.Request) {
	if err := s.Backend.RemoveContact(r.Context(), r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveVerifyContact(w http.ResponseWriter, r *http.Request) {
	var req api.VerifyRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Fingerprint == "" {
		s.writeError(w, r, badRequest("no fingerprint"))
		return
	}
	c, err := s.Backend.VerifyContact(r.Context(), r.PathValue("name"), req.Fingerprint)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, c)
}

func (s *Server) serveUnknown(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, &api.Error{Code: api.CodeNotFound,
		Message: fmt.Sprintf("no such control endpoint: %s %s", r.Method, r.URL.Path),
		Hint:    "chatctl and chatd may be different versions"})
}
