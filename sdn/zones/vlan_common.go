package zones

import (
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Shared by the zone types that hang off a host bridge (vlan, qinq).

// DecodeBridge reads the bridge keys of a vlan or qinq zone.
func DecodeBridge(d *config.Decoder, z *config.Zone) {
	d.Require("bridge", "")
	z.Bridge = d.Str("bridge")
	z.BridgeDisableMacLearning = d.Bool("bridge-disable-mac-learning")
}

// BridgeUnsupported says why a zone on a host bridge cannot be realized on
// kernel k: it needs VLAN devices when one of its devices is a VLAN
// sub-interface (always, with qinq), from 8021q or else in software (tc
// eBPF), and the bridge itself. A VLAN-aware bridge without the kernel's
// vlan_filtering is realized unfiltered (tags pass through it unchanged;
// the VLAN devices at its edges keep the VLANs apart).
func BridgeUnsupported(z *plan.ZonePlan, k Kernel, alwaysVlanDev bool) string {
	needVlanDev := alwaysVlanDev
	for n := range k.Members(z) {
		if _, _, ok := plan.ImplicitVlan(n); ok {
			needVlanDev = true
		}
		if ifc := k.Plan().Iface(n); ifc != nil && ifc.Kind == plan.KindVlan {
			needVlanDev = true
		}
	}
	if needVlanDev && !k.Caps().Vlan && !k.Caps().TCBPF {
		return "needs 802.1Q VLAN devices: neither 8021q nor tc eBPF (clsact, BPF) is available on this kernel"
	}
	if z.Bridge != "" && !k.LinkExists(z.Bridge) {
		return "its bridge " + z.Bridge + " does not exist on the node"
	}
	return ""
}
