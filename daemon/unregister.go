package daemon

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/tracker/client"
)

// Unregister answers `chatctl unregister`: it deletes the user's name from
// the tracker (a deletion signed by the identity key) and stops announcing
// it. Contacts' lookups then say the name is not found, so their chatd can
// no longer find this one; sessions already open stay up until they
// close. chatd registers the name again when it next starts.
func (b ctlBackend) Unregister(ctx context.Context) (api.UnregisterResult, error) {
	d := b.d
	err := d.presence.Unregister(ctx)
	switch {
	case err == nil:
		d.log.Info("name deleted from the tracker on the user's request", zap.String("name", d.cfg.Name), zap.String("tracker", d.cfg.Tracker))
		return api.UnregisterResult{Name: d.cfg.Name, Tracker: d.cfg.Tracker}, nil
	case errors.Is(err, client.ErrKeyMismatch):
		return api.UnregisterResult{}, &api.Error{Code: api.CodeNameTaken, Message: lower(err),
			Hint: "the tracker holds the name for another key: it is not yours to delete"}
	default:
		return api.UnregisterResult{}, &api.Error{Code: api.CodeUnavailable, Message: lower(err),
			Hint: "nothing changed and chatd still announces the name; try again later"}
	}
}
