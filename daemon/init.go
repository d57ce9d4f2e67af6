package daemon

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/config"
)

// Init answers `chatctl init` on a daemon that already has a name: the
// same name (and tracker) again is fine and reports the fingerprint;
// anything else is refused, since the name is bound to the key on the
// tracker. A daemon with no name serves init from package daemon/setup.
func (b ctlBackend) Init(ctx context.Context, req api.InitRequest) (api.InitResult, error) {
	d := b.d
	hint := fmt.Sprintf("a daemon keeps its name; to choose again, stop chatd, remove %s (or name in chatd.toml) and start it",
		filepath.Join(d.cfg.DataDir, config.AccountFile))
	if req.Name != d.cfg.Name {
		return api.InitResult{}, &api.Error{Code: api.CodeBadRequest,
			Message: fmt.Sprintf("chatd already has the name %q", d.cfg.Name), Hint: hint}
	}
	if req.Tracker != "" && req.Tracker != d.cfg.Tracker {
		return api.InitResult{}, &api.Error{Code: api.CodeBadRequest,
			Message: fmt.Sprintf("%s is registered on %s, not %s", d.cfg.Name, d.cfg.Tracker, req.Tracker), Hint: hint}
	}
	return api.InitResult{Name: d.cfg.Name, Tracker: d.cfg.Tracker, Fingerprint: d.id.Fingerprint()}, nil
}
