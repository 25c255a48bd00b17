package zones

import (
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Simple is the "simple" zone: an isolated bridge per VNet with the
// subnets' gateways on it, routed (and optionally SNATed) by the node.
type Simple struct{}

// Type implements Compiler.
func (Simple) Type() string { return "simple" }

// VNet implements Compiler.
func (Simple) VNet(env *Env, z *config.Zone, v *config.VNet, zp *plan.ZonePlan) error {
	if env.Stanzas.Has(v.ID) {
		return nil // Proxmox: nothing to do when the VNet's stanza exists
	}
	subnets := env.subnets(v.ID)
	br := plan.NewIface(v.ID, plan.KindBridge)
	seen := map[netip.Addr]bool{}
	var fwd4, fwd6 bool
	for _, s := range subnets {
		gatewayAddress(br, seen, s)
		v6 := gatewayIsV6(s)
		if s.Gateway.IsValid() {
			fwd4, fwd6 = fwd4 || !v6, fwd6 || v6
		}
		// A /32 needs a route to itself through the VNet (host routes
		// handed out to guests, e.g. additional public IPs).
		if s.Prefix.Bits() == 32 && !v6 {
			br.AddUpConnectedRoute(s.Prefix, v.ID)
		}
		if s.SNAT {
			if r, ok := env.snatRule(s); ok {
				br.AddSNAT(r)
			}
		}
	}
	vnetBridgeLines(br, v, "none", z.MTU)
	if fwd4 {
		br.SetIPForward("on")
	}
	if fwd6 {
		br.SetIP6Forward("on")
	}
	env.Stanzas.Add(br)

	zoneBase(zp, z, z.MTU)
	zp.VNets = append(zp.VNets, vnetPlan(v, subnets))
	return nil
}
