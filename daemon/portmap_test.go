package daemon

import (
	"testing"

	"github.com/p2pchat/p2pchat/ctl/api"
	"github.com/p2pchat/p2pchat/daemon/peer"
	"github.com/p2pchat/p2pchat/daemon/portmap"
	"github.com/p2pchat/p2pchat/daemon/reach"
)

// The control API names port-mapping and relay states and paths with its
// own constants (ctl never imports daemon); they must stay equal.
func TestStatesMatchAPI(t *testing.T) {
	for _, p := range [][2]string{
		{portmap.StateProbing, api.PortMapProbing}, {portmap.StateNoGateway, api.PortMapNoGateway},
		{portmap.StateMapped, api.PortMapMapped}, {portmap.StateFailed, api.PortMapFailed},
		{portmap.StateStopped, api.PortMapStopped},
		{reach.StateOff, api.RelayOff}, {reach.StateNotNeeded, api.RelayNotNeeded},
		{reach.StateReserving, api.RelayReserving}, {reach.StateReserved, api.RelayReserved},
		{reach.StateFailed, api.RelayFailed},
		{string(peer.PathDirect), api.PathDirect}, {string(peer.PathRelayed), api.PathRelayed},
	} {
		if p[0] != p[1] {
			t.Errorf("daemon state %q is %q in the control API", p[0], p[1])
		}
	}
}
