package vlan

import (
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Keys implements config.ZoneType (Zones/VlanPlugin.pm options()).
func (Type) Keys() []string {
	return []string{"nodes", "bridge", "bridge-disable-mac-learning", "mtu", "dns", "reversedns", "dnszone", "ipam"}
}

// Decode implements config.ZoneType.
func (Type) Decode(d *config.Decoder, z *config.Zone) { zones.DecodeBridge(d, z) }

// Validate implements config.ZoneType.
func (Type) Validate(*config.Config, *config.Zone, *config.ErrorList) {}

// VNets implements config.ZoneType: every VNet has a VLAN tag.
func (Type) VNets() config.VNetRules { return config.VNetRules{Tag: config.TagVLAN} }
