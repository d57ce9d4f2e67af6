package control

import (
	"context"
	"net/http"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Unregisterer is a Backend that can delete the user's name from the
// tracker (`chatctl unregister`). The name-less daemon (daemon/setup) has
// nothing to delete and does not implement it.
type Unregisterer interface {
	Unregister(ctx context.Context) (api.UnregisterResult, error)
}

func (s *Server) serveUnregister(w http.ResponseWriter, r *http.Request) {
	ub, ok := s.Backend.(Unregisterer)
	if !ok {
		s.writeError(w, r, &api.Error{Code: api.CodeNotFound, Message: "this daemon has no name to unregister"})
		return
	}
	res, err := ub.Unregister(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, res)
}
