package control

import (
	"net/http"

	"github.com/p2pchat/p2pchat/ctl/api"
)

func (s *Server) serveRequests(w http.ResponseWriter, r *http.Request) {
	rs, err := s.Backend.Requests(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rs == nil {
		rs = []api.Request{}
	}
	s.writeJSON(w, http.StatusOK, rs)
}

func (s *Server) serveAcceptRequest(w http.ResponseWriter, r *http.Request) {
	c, err := s.Backend.AcceptRequest(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, c)
}

func (s *Server) serveDeclineRequest(w http.ResponseWriter, r *http.Request) {
	if err := s.Backend.DeclineRequest(r.Context(), r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveBlockList(w http.ResponseWriter, r *http.Request) {
	bs, err := s.Backend.BlockList(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if bs == nil {
		bs = []api.Blocked{}
	}
	s.writeJSON(w, http.StatusOK, bs)
}

func (s *Server) serveBlock(w http.ResponseWriter, r *http.Request) {
	var req api.BlockRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name == "" {
		s.writeError(w, r, badRequest("no name to block"))
		return
	}
	b, err := s.Backend.Block(r.Context(), req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, b)
}

func (s *Server) serveUnblock(w http.ResponseWriter, r *http.Request) {
	if err := s.Backend.Unblock(r.Context(), r.PathValue("who")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
