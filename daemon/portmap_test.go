package daemon

import (
	"testing"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/portmap"
)

// The control API names port-mapping states with its own constants (ctl
// never imports daemon); they must stay equal to portmap's.
func TestPortMapStatesMatchAPI(t *testing.T) {
	for pm, a := range map[string]string{
		portmap.StateProbing: api.PortMapProbing, portmap.StateNoGateway: api.PortMapNoGateway,
		portmap.StateMapped: api.PortMapMapped, portmap.StateFailed: api.PortMapFailed,
		portmap.StateStopped: api.PortMapStopped,
	} {
		if pm != a {
			t.Errorf("portmap state %q is %q in the control API", pm, a)
		}
	}
}
