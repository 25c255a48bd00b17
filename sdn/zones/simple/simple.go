package simple

import (
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Type is the "simple" zone: an isolated bridge per VNet with the
// subnets' gateways on it, routed (and optionally SNATed) by the node.
type Type struct{}

// Name implements config.ZoneType.
func (Type) Name() string { return "simple" }

// VNet implements zones.Type: it compiles one VNet of the zone.
func (Type) VNet(env *zones.Env, z *config.Zone, v *config.VNet, zp *plan.ZonePlan) error {
	if env.Stanzas.Has(v.ID) {
		return nil // Proxmox: nothing to do when the VNet's stanza exists
	}
	subnets := env.Subnets(v.ID)
	br := plan.NewIface(v.ID, plan.KindBridge)
	seen := map[netip.Addr]bool{}
	var fwd4, fwd6 bool
	for _, s := range subnets {
		zones.GatewayAddress(br, seen, s)
		v6 := zones.GatewayIsV6(s)
		if s.Gateway.IsValid() {
			fwd4, fwd6 = fwd4 || !v6, fwd6 || v6
		}
		// A /32 needs a route to itself through the VNet (host routes
		// handed out to guests, e.g. additional public IPs).
		if s.Prefix.Bits() == 32 && !v6 {
			br.AddUpConnectedRoute(s.Prefix, v.ID)
		}
		if s.SNAT {
			if r, ok := env.SNATRule(s); ok {
				br.AddSNAT(r)
			}
		}
	}
	zones.VNetBridgeLines(br, v, "none", z.MTU)
	if fwd4 {
		br.SetIPForward("on")
	}
	if fwd6 {
		br.SetIP6Forward("on")
	}
	env.Stanzas.Add(br)

	zones.ZoneBase(zp, z, z.MTU)
	zp.VNets = append(zp.VNets, zones.VNetPlan(v, subnets))
	return nil
}
