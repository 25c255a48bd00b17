package vxlan

import "github.com/sdnlab/sdnlab/sdn/config"

// Keys implements config.ZoneType (Zones/VxlanPlugin.pm options()).
func (Type) Keys() []string {
	return []string{"nodes", "peers", "vxlan-port", "mtu", "dns", "reversedns", "dnszone", "ipam", "fabric"}
}

// Decode implements config.ZoneType: the flood list (peers or a fabric)
// and the UDP port.
func (Type) Decode(d *config.Decoder, z *config.Zone) {
	z.Peers, z.Fabric = d.PeersOrFabric()
	z.VxlanPort = int(d.Int("vxlan-port", 1, 65535))
}

// Validate implements config.ZoneType: the fabric must exist.
func (Type) Validate(c *config.Config, z *config.Zone, errs *config.ErrorList) {
	if z.Fabric == "" {
		return
	}
	if _, ok := c.Fabrics[z.Fabric]; !ok {
		errs.Errorf(config.PropPos(z.Props, "fabric", z.Pos), "fabric", "fabric %q is not defined in fabrics.cfg", z.Fabric)
	}
}

// VNets implements config.ZoneType: every VNet has a VNI.
func (Type) VNets() config.VNetRules { return config.VNetRules{Tag: config.TagVNI} }
