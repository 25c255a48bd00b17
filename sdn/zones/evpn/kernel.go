package evpn

import (
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Unsupported implements zones.Type.
func (Type) Unsupported(_ *plan.ZonePlan, k zones.Kernel) string {
	return zones.VxlanUnsupported(k)
}

// Traits implements zones.Type: VXLAN over the underlay, a VRF per zone,
// reached from upstream through the exit nodes.
func (Type) Traits() zones.Traits {
	return zones.Traits{VXLAN: true, VRF: true, Upstream: zones.UpstreamExitNodes}
}
