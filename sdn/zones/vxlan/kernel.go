package vxlan

import (
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Unsupported implements zones.Type.
func (Type) Unsupported(_ *plan.ZonePlan, k zones.Kernel) string {
	return zones.VxlanUnsupported(k)
}

// Traits implements zones.Type: VNets are VXLAN over the underlay.
func (Type) Traits() zones.Traits { return zones.Traits{VXLAN: true} }
