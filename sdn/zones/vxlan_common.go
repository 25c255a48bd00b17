package zones

import (
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
)

// Shared by the VXLAN-backed zone types (vxlan, evpn).

// DefaultVxlanMTU is what Proxmox gives VXLAN-backed VNets without an mtu:
// 1500 minus the 50-byte VXLAN overhead. (Proxmox means to derive it from
// the uplink's MTU but looks it up in the wrong place, so it is always
// 1450; the lab writes the same.)
const DefaultVxlanMTU = 1450

// VxlanMTU is the MTU of a VXLAN-backed zone's devices.
func VxlanMTU(z *config.Zone) int {
	if z.MTU > 0 {
		return z.MTU
	}
	return DefaultVxlanMTU
}

// FabricPeers returns the router IPs of every node of fabric id (sorted by
// node name) and this node's IP.
func FabricPeers(env *Env, id, what string) ([]netip.Addr, netip.Addr, error) {
	f := env.Cfg.Fabrics[id]
	if f == nil {
		return nil, netip.Addr{}, fmt.Errorf("could not configure %s: fabric %s does not exist", what, id)
	}
	self := f.Nodes[env.Facts.Node]
	if self == nil {
		return nil, netip.Addr{}, fmt.Errorf("could not configure %s: node %s is not part of fabric %s", what, env.Facts.Node, id)
	}
	if !self.IP.IsValid() {
		return nil, netip.Addr{}, fmt.Errorf("node %s requires an IP in the fabric %s to configure %s", env.Facts.Node, id, what)
	}
	return f.NodeIPs(), self.IP, nil
}

// VxlanUnsupported is the kernel need of a VXLAN-backed zone.
func VxlanUnsupported(k Kernel) string {
	if !k.Caps().Vxlan {
		return "needs vxlan, not available on this kernel"
	}
	return ""
}
