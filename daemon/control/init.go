package control

import (
	"context"
	"net/http"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Initializer is a Backend that can take the user's name (`chatctl init`):
// the name-less daemon waiting for one (daemon/setup) and the running
// daemon, which answers for the name it already has.
type Initializer interface {
	Init(ctx context.Context, req api.InitRequest) (api.InitResult, error)
}

func (s *Server) serveInit(w http.ResponseWriter, r *http.Request) {
	ib, ok := s.Backend.(Initializer)
	if !ok {
		s.writeError(w, r, &api.Error{Code: api.CodeNotFound, Message: "this daemon cannot be initialized"})
		return
	}
	var req api.InitRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Name == "" {
		s.writeError(w, r, badRequest("no name"))
		return
	}
	res, err := ib.Init(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, res)
}
