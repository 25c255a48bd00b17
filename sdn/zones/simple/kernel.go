package simple

import (
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Unsupported implements zones.Type: a bridge is all a simple zone needs.
func (Type) Unsupported(*plan.ZonePlan, zones.Kernel) string { return "" }

// Traits implements zones.Type: routed by its node, so the upstream
// router reaches a zone that lives on one node through that node.
func (Type) Traits() zones.Traits { return zones.Traits{Upstream: zones.UpstreamSingleNode} }
