package qinq

import (
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Unsupported implements zones.Type.
func (Type) Unsupported(z *plan.ZonePlan, k zones.Kernel) string {
	return zones.BridgeUnsupported(z, k, true)
}

// Traits implements zones.Type: L2 on VLANs of the host bridge.
func (Type) Traits() zones.Traits { return zones.Traits{VLAN: true} }
