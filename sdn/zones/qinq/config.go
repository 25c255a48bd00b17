package qinq

import (
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Keys implements config.ZoneType (Zones/QinQPlugin.pm options()).
func (Type) Keys() []string {
	return []string{"nodes", "tag", "bridge", "bridge-disable-mac-learning", "mtu", "vlan-protocol",
		"dns", "reversedns", "dnszone", "ipam"}
}

// Decode implements config.ZoneType: the bridge, the service tag and its
// protocol.
func (Type) Decode(d *config.Decoder, z *config.Zone) {
	zones.DecodeBridge(d, z)
	if d.Require("tag", "") {
		z.Tag = int(d.Int("tag", 1, 4094))
	}
	z.VlanProtocol = d.Str("vlan-protocol")
	if p, ok := d.Prop("vlan-protocol"); ok && z.VlanProtocol != "802.1q" && z.VlanProtocol != "802.1ad" {
		d.Errf(p, "%q is not a VLAN protocol (want 802.1q or 802.1ad)", p.Value)
	}
}

// Validate implements config.ZoneType.
func (Type) Validate(*config.Config, *config.Zone, *config.ErrorList) {}

// VNets implements config.ZoneType: a VLAN tag, except for one VNet of the
// zone that carries the service VLAN untagged.
func (Type) VNets() config.VNetRules { return config.VNetRules{Tag: config.TagVLAN, TagOptional: true} }
